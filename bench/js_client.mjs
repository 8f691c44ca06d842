// The Node.js half of bench/js_client.py: one workload with the
// @promethean/client SDK (clients/js, built) against a running gateway;
// prints one JSON line. Run it through bench/js_client.py, which starts the
// broker and gateway and runs the same workloads with a Python client.
//
//   node bench/js_client.mjs throughput URL TOKEN TOPIC COUNT INFLIGHT
//   node bench/js_client.mjs latency    URL TOKEN TOPIC RATE SECONDS WARMUP_SECONDS
import { performance } from "node:perf_hooks";

import { connect } from "../clients/js/dist/index.js";

const [mode, url, token, topic, ...rest] = process.argv.slice(2);
const WARMUP_PUBLISHES = 1000;

async function throughput(count, inflight) {
  const client = await connect(url, { token, maxPendingPublishes: inflight });
  // maxPendingPublishes = inflight: publish() waits for a free slot, so
  // exactly `inflight` publishes are outstanding at any time.
  // Warm-up, unmeasured, in this process (the JIT) and on this topic (it exists).
  await Promise.all(Array.from({ length: WARMUP_PUBLISHES }, (_, i) => client.publish(topic, { warmup: i })));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const all = [];
  for (let i = 0; i < count; i++) all.push(client.publish(topic, { i }));
  await Promise.all(all);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await client.close();
  return {
    mode,
    count,
    inflight,
    seconds,
    msgs_per_s: count / seconds,
    cpu_us_per_msg: (used.user + used.system) / count,
    retries: client.stats.publishRetries,
  };
}

async function latency(rate, seconds, warmupSeconds) {
  const publisher = await connect(url, { token });
  const subscriber = await connect(url, { token });
  const latencies = [];
  let measuring = false;
  let received = 0;
  await subscriber.subscribe(
    topic,
    "bench",
    (message) => {
      received++;
      if (measuring && message.payload.m) latencies.push(performance.now() - message.payload.t);
    },
    { maxInflight: 256 },
  );
  const total = Math.round(rate * (seconds + warmupSeconds));
  const warmup = Math.round(rate * warmupSeconds);
  const started = performance.now();
  const publishes = [];
  for (let i = 0; i < total; i++) {
    // Paced on an absolute schedule, so a late tick does not lower the rate.
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (i === warmup) measuring = true;
    publishes.push(publisher.publish(topic, { t: performance.now(), m: i >= warmup }));
  }
  await Promise.all(publishes);
  const deadline = performance.now() + 10_000;
  while (received < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await publisher.close();
  await subscriber.close();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    mode,
    rate,
    seconds,
    measured: latencies.length,
    received,
    sent: total,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
  };
}

const result =
  mode === "throughput"
    ? await throughput(Number(rest[0]), Number(rest[1]))
    : await latency(Number(rest[0]), Number(rest[1]), Number(rest[2]));
console.log(JSON.stringify(result));
