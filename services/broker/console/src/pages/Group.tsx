import { useState } from "preact/hooks";
import { api } from "../api";
import { Confirm, ErrorNote, Page, count, href, useCanWrite, when } from "../components";
import { useLive } from "../hooks";
import { Group as GroupData } from "../types";

export function Group({ name }: { name: string }) {
  const live = useLive<GroupData>(`/console/api/stream/groups/${encodeURIComponent(name)}`, "group");
  const group = live.data;
  const canWrite = useCanWrite();
  // Kept above the topics: a deleted group's topic section goes away with it.
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <Page title={`Group ${name}`} live={live.state}>
      <p>
        <a href="#/groups">← All groups</a>
      </p>
      <ErrorNote error={live.error} />
      {notice && (
        <p class="ok" role="status" data-testid="group-notice">
          {notice}
        </p>
      )}
      {group && group.topics.length === 0 && <p class="muted">This group holds no offsets on any topic.</p>}
      {group && (
        <>
          <dl class="facts inline" data-testid="group-facts">
            <dt>Generation</dt>
            <dd data-testid="generation">{group.generation}</dd>
            <dt>Members</dt>
            <dd>{group.members.length}</dd>
            <dt>Subscribers</dt>
            <dd data-testid="subscribers">{group.subscribers}</dd>
          </dl>
          {group.topics.map((t) => (
            <section key={t.topic} aria-labelledby={`t-${t.topic}`}>
              <h2 id={`t-${t.topic}`}>
                <a href={href("topics", t.topic)}>{t.topic}</a> <span class="muted">lag {count(t.lag)}</span>
              </h2>
              <div class="scroll">
                <table class="compact" data-testid={`offsets-${t.topic}`}>
                  <caption class="sr-only">Committed offsets of {name} on {t.topic}</caption>
                  <thead>
                    <tr>
                      <th scope="col" class="num">Partition</th>
                      <th scope="col" class="num">Committed</th>
                      <th scope="col" class="num">Latest</th>
                      <th scope="col" class="num">Lag</th>
                      <th scope="col" class="num">In flight</th>
                      <th scope="col">Owner</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.partitions.map((p) => (
                      <tr key={p.partition} data-partition={p.partition}>
                        <td class="num">{p.partition}</td>
                        <td class="num" data-testid="committed">
                          {count(p.committed)}
                        </td>
                        <td class="num">{count(p.latest)}</td>
                        <td class={`num ${p.lag > 0 ? "warn" : ""}`}>{count(p.lag)}</td>
                        <td class="num">{count(p.inflight)}</td>
                        <td>{owner(group, t.topic, p.partition)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {canWrite && <GroupActions group={name} topic={t.topic} partitions={t.partitions.length} onDone={setNotice} />}
            </section>
          ))}
          <h2>Members</h2>
          {group.members.length === 0 ? (
            <p class="muted">No partitioned-worker members (plain subscribers share partitions without joining).</p>
          ) : (
            <div class="scroll">
              <table class="compact" data-testid="members">
                <caption class="sr-only">Members</caption>
                <thead>
                  <tr>
                    <th scope="col">Member</th>
                    <th scope="col">Instance</th>
                    <th scope="col">Topics</th>
                    <th scope="col" class="num">Generation</th>
                    <th scope="col">Session ends</th>
                  </tr>
                </thead>
                <tbody>
                  {group.members.map((m) => (
                    <tr key={m.member_id}>
                      <td class="mono">{m.member_id}</td>
                      <td>{m.instance_id ?? "—"}</td>
                      <td>{m.topics.join(", ")}</td>
                      <td class="num">{m.generation}</td>
                      <td>{when(m.expires_at_ms)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h2>Rebalance log</h2>
          {group.log.length === 0 ? (
            <p class="muted">No rebalance yet.</p>
          ) : (
            <ol class="log" data-testid="rebalance-log" tabIndex={0} aria-label="Rebalance log">
              {group.log
                .slice()
                .reverse()
                .map((entry, i) => (
                  <li key={i}>{logLine(entry, group)}</li>
                ))}
            </ol>
          )}
        </>
      )}
    </Page>
  );
}

// A member by its instance id (the pod name) when it has one.
function memberName(group: GroupData, member: string): string {
  return group.members.find((m) => m.member_id === member)?.instance_id ?? member.slice(0, 12);
}

function owner(group: GroupData, topic: string, partition: number): string {
  for (const [member, topics] of Object.entries(group.assignment)) {
    if (topics[topic]?.includes(partition)) return memberName(group, member);
  }
  return group.subscribers > 0 ? "shared" : "—";
}

// "generation 2 at 04:11:21Z: w-1 orders 0,1 · w-2 orders 2"
function logLine(entry: unknown, group: GroupData): string {
  if (typeof entry !== "object" || entry === null) return String(entry);
  const { generation, ts, owners, ...rest } = entry as {
    generation?: number;
    ts?: number;
    owners?: Record<string, Record<string, number[]>>;
  };
  const held = Object.entries(owners ?? {})
    .map(([member, topics]) => {
      const parts = Object.entries(topics)
        .map(([t, ps]) => `${t} ${ps.length ? ps.join(",") : "none"}`)
        .join("; ");
      return `${memberName(group, member)}: ${parts || "nothing"}`;
    })
    .join(" · ");
  const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
  const time = typeof ts === "number" ? ` at ${when(ts)}` : "";
  return `generation ${generation ?? "?"}${time} — ${held || "no members"}${extra}`;
}

type ResetTo = "earliest" | "latest" | "offset" | "timestamp";

function GroupActions(props: { group: string; topic: string; partitions: number; onDone(note: string | null): void }) {
  const { group, topic, partitions, onDone } = props;
  const [to, setTo] = useState<ResetTo>("earliest");
  const [value, setValue] = useState("");
  const [only, setOnly] = useState("");
  const [asking, setAsking] = useState<"reset" | "delete" | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const body = () => {
    const b: Record<string, unknown> = { topic, to };
    if (to === "offset" || to === "timestamp") b.value = Number(value || 0);
    if (only !== "") b.partitions = [Number(only)];
    return b;
  };
  const run = async () => {
    const action = asking;
    setAsking(null);
    setError(null);
    try {
      if (action === "reset") {
        const result = await api<{ offsets: Record<string, number> }>("POST", `/groups/${encodeURIComponent(group)}/reset-offsets`, body());
        const moved = Object.entries(result.offsets)
          .map(([p, o]) => `${p}→${o}`)
          .join(", ");
        onDone(`Offsets of ${group} on ${topic} reset: ${moved || "nothing to move"}.`);
      } else if (action === "delete") {
        await api("DELETE", `/groups/${encodeURIComponent(group)}?topic=${encodeURIComponent(topic)}`);
        onDone(`Group ${group} deleted from ${topic}.`);
      }
    } catch (err) {
      onDone(null);
      setError(err as Error);
    }
  };
  const label = to === "timestamp" ? "Timestamp (ms)" : "Offset";
  return (
    <div class="card actions" data-testid={`actions-${topic}`}>
      <form
        class="toolbar"
        aria-label={`Reset offsets of ${group} on ${topic}`}
        onSubmit={(e) => {
          e.preventDefault();
          setAsking("reset");
        }}
      >
        <label>
          Reset to
          <select name="to" value={to} onChange={(e) => setTo(e.currentTarget.value as ResetTo)}>
            <option value="earliest">earliest</option>
            <option value="latest">latest</option>
            <option value="offset">offset</option>
            <option value="timestamp">timestamp</option>
          </select>
        </label>
        {(to === "offset" || to === "timestamp") && (
          <label>
            {label}
            <input name="value" type="number" min={0} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Partition
          <select name="partition" value={only} onChange={(e) => setOnly(e.currentTarget.value)}>
            <option value="">all</option>
            {Array.from({ length: partitions }, (_, p) => (
              <option key={p} value={String(p)}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary">
          Reset offsets…
        </button>
        <button type="button" class="danger" onClick={() => setAsking("delete")}>
          Delete group…
        </button>
      </form>
      <ErrorNote error={error} />
      <Confirm
        id={`confirm-${topic}`}
        open={asking !== null}
        title={asking === "delete" ? `Delete ${group}?` : `Reset ${group}?`}
        confirm={asking === "delete" ? "Delete group" : "Reset offsets"}
        danger={asking === "delete"}
        onConfirm={run}
        onCancel={() => setAsking(null)}
      >
        {asking === "delete" ? (
          <p>
            Forget the committed offsets of <strong>{group}</strong> on <strong>{topic}</strong>. The group must have no live members.
          </p>
        ) : (
          <p>
            Move the committed offsets of <strong>{group}</strong> on <strong>{topic}</strong> to <strong>{to}</strong>
            {to === "offset" || to === "timestamp" ? ` ${value || 0}` : ""} on {only === "" ? "every partition" : `partition ${only}`}. The group
            must have no live members.
          </p>
        )}
      </Confirm>
    </div>
  );
}
