import { ComponentChildren, createContext } from "preact";
import { useContext, useEffect, useRef } from "preact/hooks";
import { ApiError, StreamState } from "./api";
import { EventRecord, SignedIn } from "./types";

export const Session = createContext<SignedIn | null>(null);

export function useCanWrite(): boolean {
  return useContext(Session)?.role === "admin";
}

export const fmt = new Intl.NumberFormat("en");

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : fmt.format(n);
}

export function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export function duration(ms: number | null): string {
  if (ms === null || ms === undefined) return "—";
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${fmt.format(ms)}ms`;
}

export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}

export function Page(props: { title: string; live?: StreamState; actions?: ComponentChildren; children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Promethean console`;
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title" ref={heading} tabIndex={-1}>
          {props.title}
        </h1>
        {props.live !== undefined && <LiveBadge state={props.live} />}
        <div class="page-actions">{props.actions}</div>
      </div>
      {props.children}
    </section>
  );
}

const STATE_TEXT: Record<StreamState, string> = {
  connecting: "connecting…",
  live: "live",
  closed: "paused",
  error: "reconnecting…",
};

export function LiveBadge({ state }: { state: StreamState }) {
  return (
    <span class={`badge badge-${state}`} role="status" data-state={state}>
      <span class="dot" aria-hidden="true" />
      {STATE_TEXT[state]}
    </span>
  );
}

export function ErrorNote({ error }: { error: ApiError | Error | null | undefined }) {
  if (!error) return null;
  const code = error instanceof ApiError ? ` (${error.code})` : "";
  return (
    <p class="error" role="alert">
      {error.message}
      {code}
    </p>
  );
}

export function Stat(props: { label: string; value: string; id: string; tone?: "warn" | "ok" }) {
  return (
    <div class={`stat ${props.tone ? "stat-" + props.tone : ""}`}>
      <div class="stat-value" id={props.id} data-testid={props.id}>
        {props.value}
      </div>
      <div class="stat-label">{props.label}</div>
    </div>
  );
}

export function Confirm(props: {
  id: string;
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirm: string;
  danger?: boolean;
  onConfirm(): void;
  onCancel(): void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (props.open && !el.open) el.showModal();
    if (!props.open && el.open) el.close();
  }, [props.open]);
  return (
    <dialog ref={dialog} aria-labelledby={props.id} onCancel={props.onCancel} class="confirm">
      <h2 id={props.id}>{props.title}</h2>
      <div>{props.children}</div>
      <div class="row end">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class={props.danger ? "danger" : "primary"} onClick={props.onConfirm}>
          {props.confirm}
        </button>
      </div>
    </dialog>
  );
}

export function pretty(payload: unknown): string {
  return JSON.stringify(payload, null, 2) ?? "null";
}

export function preview(payload: unknown): string {
  const text = JSON.stringify(payload) ?? "null";
  return text.length > 120 ? text.slice(0, 117) + "…" : text;
}

export function EventView(props: { event: EventRecord; attempts?: Record<string, number> | number; extra?: ComponentChildren }) {
  const { event } = props;
  const headers = Object.entries(event.headers ?? {});
  const attempts = props.attempts;
  return (
    <div class="event-view" data-testid="message-view">
      <dl class="facts">
        <dt>Topic</dt>
        <dd>{event.topic}</dd>
        <dt>Partition / offset</dt>
        <dd>
          {event.partition} / {event.offset}
        </dd>
        <dt>Id</dt>
        <dd class="mono">{event.id}</dd>
        <dt>Time</dt>
        <dd>{when(event.ts)}</dd>
        <dt>Key</dt>
        <dd class="mono">{event.key ?? "—"}</dd>
        <dt>Attempt</dt>
        <dd data-testid="attempts">
          {typeof attempts === "number"
            ? attempts
            : attempts && Object.keys(attempts).length
              ? Object.entries(attempts)
                  .map(([g, n]) => `${g}: ${n}`)
                  .join(", ")
              : "none in flight or failed"}
        </dd>
        {props.extra}
      </dl>
      <h3>Headers</h3>
      {headers.length ? (
        <table class="compact">
          <caption class="sr-only">Headers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {headers.map(([k, v]) => (
              <tr key={k}>
                <td class="mono">{k}</td>
                <td class="mono wrap">{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No headers.</p>
      )}
      <h3>Payload</h3>
      <pre class="payload" tabIndex={0} aria-label="Payload">
        {pretty(event.payload)}
      </pre>
    </div>
  );
}
