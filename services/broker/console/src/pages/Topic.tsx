import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, StreamState, get, openStream } from "../api";
import { ErrorNote, EventView, LiveBadge, Page, count, duration, href, preview, useCanWrite, when } from "../components";
import { useLive } from "../hooks";
import { EventRecord, Message, TopicRow } from "../types";
import { TopicForm, retentionText, schemaText, validateText } from "./Topics";

const TAIL_MAX = 500;

export function Topic({ name }: { name: string }) {
  const live = useLive<TopicRow[]>("/console/api/stream/topics", "topics");
  const topic = live.data?.find((t) => t.name === name) ?? null;
  const canWrite = useCanWrite();
  const [editing, setEditing] = useState(false);
  return (
    <Page
      title={`Topic ${name}`}
      live={live.state}
      actions={
        canWrite &&
        topic && (
          <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            Edit settings
          </button>
        )
      }
    >
      <p>
        <a href="#/topics">← All topics</a>
      </p>
      <ErrorNote error={live.error} />
      {live.data && !topic && <p class="error">No topic named {name}.</p>}
      {editing && topic && <TopicForm topic={topic} onDone={() => setEditing(false)} />}
      {topic && (
        <div class="split">
          <div>
            <h2>Settings</h2>
            <dl class="facts" data-testid="topic-settings">
              <dt>Partitions</dt>
              <dd>{topic.partitions}</dd>
              <dt>Events stored</dt>
              <dd>{count(topic.events)}</dd>
              <dt>Cleanup</dt>
              <dd>{topic.cleanup}</dd>
              <dt>Retention</dt>
              <dd>{retentionText(topic)}</dd>
              <dt>Tombstones kept</dt>
              <dd>{duration(topic.tombstone_retention_ms)}</dd>
              <dt>Max attempts</dt>
              <dd>{topic.max_attempts}</dd>
              <dt>Schema</dt>
              <dd data-testid="schema">{schemaText(topic)}</dd>
              <dt>Validate</dt>
              <dd data-testid="validate">{validateText(topic)}</dd>
              <dt>Groups</dt>
              <dd>
                {topic.groups.length
                  ? topic.groups.map((g, i) => (
                      <span key={g}>
                        {i > 0 && ", "}
                        <a href={href("groups", g)}>{g}</a>
                      </span>
                    ))
                  : "—"}
              </dd>
            </dl>
          </div>
          <div>
            <h2>Partitions</h2>
            <div class="scroll">
              <table class="compact" data-testid="partitions">
                <caption class="sr-only">Offsets by partition</caption>
                <thead>
                  <tr>
                    <th scope="col" class="num">Partition</th>
                    <th scope="col" class="num">Earliest</th>
                    <th scope="col" class="num">Latest</th>
                  </tr>
                </thead>
                <tbody>
                  {topic.offsets.map((o) => (
                    <tr key={o.partition}>
                      <td class="num">{o.partition}</td>
                      <td class="num">{count(o.earliest)}</td>
                      <td class="num">{count(o.latest)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        </div>
      )}
      <Tail topic={name} partitions={topic?.partitions ?? 0} />
      <LatestByKey topic={name} />
    </Page>
  );
}

interface TailOptions {
  from: "latest" | "earliest" | "offset";
  offset: string;
  partition: string;
  key: string;
  header: string;
}

function tailUrl(topic: string, o: TailOptions, positions: Record<string, number> | null): string {
  const q = new URLSearchParams();
  if (positions) {
    q.set("from", "positions");
    q.set("positions", Object.entries(positions).map(([p, n]) => `${p}:${n}`).join(","));
  } else {
    q.set("from", o.from);
    if (o.from === "offset") {
      q.set("offset", o.offset || "0");
      if (o.partition !== "") q.set("partition", o.partition);
    }
  }
  if (o.key) q.set("key", o.key);
  if (o.header) q.set("header", o.header);
  return `/console/api/tail/${encodeURIComponent(topic)}?${q}`;
}

function Tail({ topic, partitions }: { topic: string; partitions: number }) {
  const [options, setOptions] = useState<TailOptions>({ from: "latest", offset: "0", partition: "", key: "", header: "" });
  const [rows, setRows] = useState<EventRecord[]>([]);
  const [state, setState] = useState<StreamState>("closed");
  const [error, setError] = useState<ApiError | null>(null);
  const [selected, setSelected] = useState<Message | null>(null);
  const positions = useRef<Record<string, number> | null>(null);
  const stop = useRef<(() => void) | null>(null);
  const [running, setRunning] = useState(false);

  const start = (resume: boolean) => {
    stop.current?.();
    if (!resume) {
      positions.current = null;
      setRows([]);
    }
    setRunning(true);
    stop.current = openStream(() => tailUrl(topic, options, positions.current), {
      onEvent(name, data) {
        if (name === "position") positions.current = data as Record<string, number>;
        if (name === "message") setRows((prev) => [data as EventRecord, ...prev].slice(0, TAIL_MAX));
      },
      onState(s, err) {
        setState(s);
        setError(err ?? null);
      },
    });
  };
  const pause = () => {
    stop.current?.();
    stop.current = null;
    setRunning(false);
  };
  useEffect(() => () => stop.current?.(), []);
  useEffect(() => {
    start(false);
    // Start tailing from the latest offset when the page opens.
  }, [topic]);

  const show = async (e: EventRecord) => {
    try {
      setSelected(await get<Message>(`/console/api/message?topic=${encodeURIComponent(e.topic)}&partition=${e.partition}&offset=${e.offset}`));
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const set = (field: keyof TailOptions) => (e: Event) => setOptions({ ...options, [field]: (e.currentTarget as HTMLInputElement).value });

  return (
    <section aria-labelledby="tail-title" class="tail">
      <div class="page-head">
        <h2 id="tail-title">Live tail</h2>
        <LiveBadge state={running ? state : "closed"} />
        <span class="muted" data-testid="tail-count">
          {rows.length} shown (newest first, at most {TAIL_MAX})
        </span>
      </div>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          start(false);
        }}
        aria-label="Tail options"
      >
        <label>
          From
          <select name="from" value={options.from} onChange={set("from")}>
            <option value="latest">latest</option>
            <option value="earliest">earliest</option>
            <option value="offset">offset</option>
          </select>
        </label>
        {options.from === "offset" && (
          <>
            <label>
              Offset
              <input name="offset" type="number" min={0} value={options.offset} onInput={set("offset")} />
            </label>
            <label>
              Partition
              <select name="partition" value={options.partition} onChange={set("partition")}>
                <option value="">all</option>
                {Array.from({ length: partitions }, (_, p) => (
                  <option key={p} value={String(p)}>
                    {p}
                  </option>
                ))}
              </select>
            </label>
          </>
        )}
        <label>
          Key
          <input name="key" value={options.key} onInput={set("key")} placeholder="any" autoComplete="off" />
        </label>
        <label>
          Header
          <input name="header" value={options.header} onInput={set("header")} placeholder="name:value" autoComplete="off" />
        </label>
        <button type="submit" class="primary">
          Start
        </button>
        {running ? (
          <button type="button" onClick={pause}>
            Pause
          </button>
        ) : (
          <button type="button" onClick={() => start(positions.current !== null)}>
            Resume
          </button>
        )}
        <button type="button" onClick={() => setRows([])}>
          Clear
        </button>
      </form>
      <ErrorNote error={error} />
      <div class="split">
        <div class="scroll tail-rows">
          <table class="compact" data-testid="tail">
            <caption class="sr-only">Events as they arrive</caption>
            <thead>
              <tr>
                <th scope="col">Position</th>
                <th scope="col">Time</th>
                <th scope="col">Key</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && (
                <tr>
                  <td colSpan={4} class="muted">
                    Waiting for events…
                  </td>
                </tr>
              )}
              {rows.map((e) => (
                <tr key={`${e.partition}/${e.offset}`} data-id={e.id} class={selected?.id === e.id ? "selected" : ""}>
                  <td>
                    <button type="button" class="link" onClick={() => show(e)} aria-label={`Show event ${e.partition}/${e.offset}`}>
                      {e.partition}/{e.offset}
                    </button>
                  </td>
                  <td class="nowrap">{when(e.ts)}</td>
                  <td class="mono">{e.key ?? "—"}</td>
                  <td class="mono clip">{preview(e.payload)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          {selected ? (
            <>
              <h3>Event {selected.partition}/{selected.offset}</h3>
              <EventView event={selected} attempts={selected.attempts} />
            </>
          ) : (
            <p class="muted">Choose an event to see its payload, headers and attempts.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function LatestByKey({ topic }: { topic: string }) {
  const [key, setKey] = useState("");
  const [found, setFound] = useState<EventRecord | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const look = async (e: Event) => {
    e.preventDefault();
    try {
      setFound(await get<EventRecord>(`/latest-by-key?topic=${encodeURIComponent(topic)}&key=${encodeURIComponent(key)}`));
      setError(null);
    } catch (err) {
      setFound(null);
      setError(err as ApiError);
    }
  };
  return (
    <section aria-labelledby="lbk-title">
      <h2 id="lbk-title">Latest by key</h2>
      <form class="toolbar" onSubmit={look} aria-label="Latest event by key">
        <label>
          Key
          <input name="lookup-key" required value={key} onInput={(e) => setKey(e.currentTarget.value)} autoComplete="off" />
        </label>
        <button type="submit">Look up</button>
      </form>
      <ErrorNote error={error} />
      {found && <EventView event={found} />}
    </section>
  );
}
