import { ErrorNote, Page, Stat, ago, count } from "../components";
import { useLive } from "../hooks";
import { Overview as OverviewData } from "../types";

export function Overview() {
  const live = useLive<OverviewData>("/console/api/stream/overview", "overview");
  const data = live.data;
  const alive = data ? data.services.filter((s) => s.alive).length : 0;
  return (
    <Page title="Overview" live={live.state}>
      <ErrorNote error={live.error} />
      {data && (
        <>
          <div class="stats">
            <Stat id="stat-services" label="services alive" value={`${alive} / ${data.services.length}`} tone={alive < data.services.length ? "warn" : "ok"} />
            <Stat id="stat-publish-rate" label="published / s" value={data.publish_rate.toFixed(1)} />
            <Stat id="stat-delivery-rate" label="delivered / s" value={data.delivery_rate.toFixed(1)} />
            <Stat id="stat-total-lag" label="total lag" value={count(data.total_lag)} tone={data.total_lag > 0 ? "warn" : undefined} />
            <Stat id="stat-dlq-depth" label="dead-lettered" value={count(data.dlq_depth)} tone={data.dlq_depth > 0 ? "warn" : undefined} />
            <Stat id="stat-topics" label="topics" value={count(data.topics)} />
            <Stat id="stat-groups" label="groups" value={count(data.groups)} />
            <Stat id="stat-inflight" label="in flight" value={count(data.inflight)} />
          </div>
          <h2>Services</h2>
          <p class="muted">From the heartbeats every service publishes to heartbeat.received.</p>
          <div class="scroll">
            <table data-testid="services">
              <caption class="sr-only">Services and their last heartbeat</caption>
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col">Status</th>
                  <th scope="col">Host</th>
                  <th scope="col" class="num">PID</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col" class="num">Queue</th>
                  <th scope="col" class="num">In flight</th>
                </tr>
              </thead>
              <tbody>
                {data.services.length === 0 && (
                  <tr>
                    <td colSpan={7} class="muted">
                      No heartbeats yet.
                    </td>
                  </tr>
                )}
                {data.services.map((s) => (
                  <tr key={s.key}>
                    <td>{s.name ?? s.key}</td>
                    <td>
                      <span class={s.alive ? "ok" : "bad"}>{s.alive ? "● alive" : "○ silent"}</span>
                      {s.connected === false && <span class="bad"> (disconnected)</span>}
                    </td>
                    <td>{s.host ?? "—"}</td>
                    <td class="num">{s.pid ?? "—"}</td>
                    <td>{ago(s.ts, data.ts)}</td>
                    <td class="num">{count(s.queue)}</td>
                    <td class="num">{count(s.inflight)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}
