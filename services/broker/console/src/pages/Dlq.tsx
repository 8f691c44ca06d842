import { useEffect, useState } from "preact/hooks";
import { ApiError, api, get } from "../api";
import { Confirm, ErrorNote, EventView, Page, count, href, useCanWrite, when } from "../components";
import { useLive } from "../hooks";
import { DlqInfo, DlqPage, DlqRecord, ReplayResult } from "../types";

export function DlqList() {
  const live = useLive<{ dlqs: DlqInfo[] }>("/console/api/stream/dlq", "dlq");
  return (
    <Page title="Dead-letter queues" live={live.state}>
      <ErrorNote error={live.error} />
      <div class="scroll">
        <table data-testid="dlqs">
          <caption class="sr-only">Dead-letter queues</caption>
          <thead>
            <tr>
              <th scope="col">Topic</th>
              <th scope="col">Dead-letter topic</th>
              <th scope="col" class="num">Records</th>
            </tr>
          </thead>
          <tbody>
            {live.data?.dlqs.length === 0 && (
              <tr>
                <td colSpan={3} class="muted">
                  Nothing has been dead-lettered.
                </td>
              </tr>
            )}
            {(live.data?.dlqs ?? []).map((d) => (
              <tr key={d.dlq} data-topic={d.topic}>
                <td>
                  <a href={href("dlq", d.topic)}>{d.topic}</a>
                </td>
                <td class="mono">{d.dlq}</td>
                <td class={`num ${d.depth > 0 ? "warn" : ""}`} data-testid="depth">
                  {count(d.depth)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

const PAGE = 200;

export function Dlq({ topic }: { topic: string }) {
  const [page, setPage] = useState<DlqPage | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<DlqRecord | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [asking, setAsking] = useState<"all" | "purge" | null>(null);
  const canWrite = useCanWrite();
  const path = `/dlq/${encodeURIComponent(topic)}`;

  const load = async () => {
    try {
      setPage(await get<DlqPage>(`${path}?limit=${PAGE}`));
      setError(null);
    } catch (err) {
      setError(err as ApiError);
    }
  };
  useEffect(() => {
    void load();
  }, [topic]);

  const key = (r: DlqRecord) => `${r.partition}:${r.offset}`;
  const toggle = (r: DlqRecord) => {
    const next = new Set(chosen);
    if (next.has(key(r))) next.delete(key(r));
    else next.add(key(r));
    setChosen(next);
  };
  const replaySelected = async () => {
    const events = [...chosen].map((k) => {
      const [partition, offset] = k.split(":").map(Number);
      return { partition, offset };
    });
    setProgress({ done: 0, total: events.length });
    try {
      const result = await api<ReplayResult>("POST", `${path}/replay`, { events });
      setProgress({ done: events.length, total: events.length });
      setNote(`Replayed ${result.replayed} of ${events.length} selected (${result.skipped} already replayed).`);
      setChosen(new Set());
    } catch (err) {
      setError(err as Error);
    }
    await load();
  };
  const replayAll = async () => {
    setAsking(null);
    const total = page?.depth ?? 0;
    let from: Record<string, number> = {};
    let done = 0;
    let replayed = 0;
    setProgress({ done, total });
    try {
      for (;;) {
        const result = await api<ReplayResult>("POST", `${path}/replay`, { all: true, max: 50, from });
        done += result.scanned;
        replayed += result.replayed;
        setProgress({ done: Math.min(done, total), total });
        if (result.done) break;
        from = result.next;
      }
      setNote(`Replayed ${replayed} of ${done} records (the rest were replayed before).`);
    } catch (err) {
      setError(err as Error);
    }
    await load();
  };
  const purge = async () => {
    setAsking(null);
    try {
      const result = await api<{ purged: number }>("DELETE", path);
      setNote(`Purged ${result.purged} records.`);
      setProgress(null);
    } catch (err) {
      setError(err as Error);
    }
    await load();
  };

  return (
    <Page
      title={`DLQ of ${topic}`}
      actions={
        canWrite && (
          <>
            <button type="button" class="primary" disabled={chosen.size === 0} onClick={replaySelected}>
              Replay selected ({chosen.size})
            </button>
            <button type="button" disabled={!page?.depth} onClick={() => setAsking("all")}>
              Replay all…
            </button>
            <button type="button" class="danger" disabled={!page?.depth} onClick={() => setAsking("purge")}>
              Purge…
            </button>
          </>
        )
      }
    >
      <p>
        <a href="#/dlq">← All dead-letter queues</a> · <a href={href("topics", topic)}>topic {topic}</a>
      </p>
      <ErrorNote error={error} />
      {progress && (
        <div class="progress-row">
          <label for="replay-progress">Replay progress</label>
          <progress id="replay-progress" max={progress.total || 1} value={progress.done} data-testid="replay-progress" />
          <span>
            {progress.done} / {progress.total}
          </span>
        </div>
      )}
      {note && (
        <p class="ok" role="status" data-testid="dlq-note">
          {note}
        </p>
      )}
      {page && (
        <p class="muted">
          {count(page.depth)} records in {page.dlq}
          {page.records.length < page.depth ? `, first ${page.records.length} shown` : ""}.
        </p>
      )}
      <div class="split split-stacked">
        <div class="scroll">
          <table class="compact" data-testid="dlq-records">
            <caption class="sr-only">Dead-lettered records</caption>
            <thead>
              <tr>
                {canWrite && (
                  <th scope="col">
                    <span class="sr-only">Select</span>
                  </th>
                )}
                <th scope="col">Original</th>
                <th scope="col">Group</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col">Reason</th>
                <th scope="col">Time</th>
                <th scope="col">Replayed</th>
              </tr>
            </thead>
            <tbody>
              {page?.records.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    Empty.
                  </td>
                </tr>
              )}
              {(page?.records ?? []).map((r) => (
                <tr key={key(r)} data-id={r.id} class={open?.id === r.id ? "selected" : ""}>
                  {canWrite && (
                    <td>
                      <input
                        type="checkbox"
                        checked={chosen.has(key(r))}
                        onChange={() => toggle(r)}
                        aria-label={`Select ${r.original.topic}/${r.original.partition}/${r.original.offset}`}
                      />
                    </td>
                  )}
                  <td>
                    <button type="button" class="link" onClick={() => setOpen(r)}>
                      {r.original.partition}/{r.original.offset}
                    </button>
                  </td>
                  <td>{r.group ?? "—"}</td>
                  <td class="num">{r.attempts}</td>
                  <td class="clip" title={r.reason ?? ""}>
                    {r.reason ?? "—"}
                  </td>
                  <td class="nowrap">{when(r.ts)}</td>
                  <td data-testid="replayed">{r.replayed ? "yes" : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          {open ? (
            <>
              <h2>Record {open.partition}/{open.offset}</h2>
              <EventView
                event={open}
                attempts={open.attempts}
                extra={
                  <>
                    <dt>Reason</dt>
                    <dd>{open.reason ?? "—"}</dd>
                    <dt>Dead-lettered by</dt>
                    <dd>{open.group ?? "—"}</dd>
                  </>
                }
              />
            </>
          ) : (
            <p class="muted">Choose a record to see its payload, headers and reason.</p>
          )}
        </div>
      </div>
      {canWrite && (
      <Confirm
        id="confirm-dlq"
        open={asking !== null}
        title={asking === "purge" ? `Purge the DLQ of ${topic}?` : `Replay every record of ${topic}'s DLQ?`}
        confirm={asking === "purge" ? "Purge" : "Replay all"}
        danger={asking === "purge"}
        onConfirm={asking === "purge" ? purge : replayAll}
        onCancel={() => setAsking(null)}
      >
        {asking === "purge" ? (
          <p>Every record in the dead-letter queue is deleted for good. Records not replayed are lost.</p>
        ) : (
          <p>Each record is published again on its original topic (records replayed before are skipped).</p>
        )}
      </Confirm>
      )}
    </Page>
  );
}
