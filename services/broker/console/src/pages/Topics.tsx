import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorNote, Page, count, duration, href, useCanWrite } from "../components";
import { useLive } from "../hooks";
import { TopicRow } from "../types";

export function offsetsText(t: TopicRow): string {
  const earliest = Math.min(...t.offsets.map((o) => o.earliest));
  const latest = Math.max(...t.offsets.map((o) => o.latest));
  return latest < 0 ? "empty" : `${count(earliest)} … ${count(latest)}`;
}

export function retentionText(t: TopicRow): string {
  const parts = [];
  if (t.retention_ms !== null) parts.push(duration(t.retention_ms));
  if (t.retention_events !== null) parts.push(`${count(t.retention_events)} events`);
  return parts.length ? parts.join(", ") : "forever";
}

export function schemaText(t: TopicRow): string {
  const s = t.schema;
  return s.version === null ? `${s.subject} (none)` : `${s.subject} v${s.version} (id ${s.id})`;
}

export function validateText(t: TopicRow): string {
  return t.validate ? "on" : "off";
}

export function Topics() {
  const live = useLive<TopicRow[]>("/console/api/stream/topics", "topics");
  const canWrite = useCanWrite();
  const [creating, setCreating] = useState(false);
  return (
    <Page
      title="Topics"
      live={live.state}
      actions={
        canWrite && (
          <button type="button" class="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            New topic
          </button>
        )
      }
    >
      <ErrorNote error={live.error} />
      {creating && <TopicForm onDone={() => setCreating(false)} />}
      <div class="scroll">
        <table data-testid="topics">
          <caption class="sr-only">Topics</caption>
          <thead>
            <tr>
              <th scope="col">Topic</th>
              <th scope="col" class="num">Partitions</th>
              <th scope="col" class="num">Events</th>
              <th scope="col">Offsets</th>
              <th scope="col">Cleanup</th>
              <th scope="col">Retention</th>
              <th scope="col" class="num">Max attempts</th>
              <th scope="col">Schema</th>
              <th scope="col">Validate</th>
              <th scope="col">Groups</th>
            </tr>
          </thead>
          <tbody>
            {(live.data ?? []).map((t) => (
              <tr key={t.name} data-topic={t.name}>
                <td>
                  <a href={href("topics", t.name)}>{t.name}</a>
                </td>
                <td class="num">{t.partitions}</td>
                <td class="num" data-testid="events">
                  {count(t.events)}
                </td>
                <td>{offsetsText(t)}</td>
                <td>{t.cleanup}</td>
                <td>{retentionText(t)}</td>
                <td class="num">{t.max_attempts}</td>
                <td data-testid="schema">{schemaText(t)}</td>
                <td data-testid="validate">{validateText(t)}</td>
                <td>{t.groups.join(", ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

const CLEANUPS = ["delete", "compact", "compact,delete"];

function numberOrNull(value: string): number | null {
  return value.trim() === "" ? null : Number(value);
}

// Creates a topic, or (with `topic`) changes the settings of one. The fields
// take their first values from `topic` and are then the operator's: the live
// snapshot re-renders this form every second and must not undo what was typed.
export function TopicForm(props: { topic?: TopicRow; onDone(): void }) {
  const t = props.topic;
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const body: Record<string, unknown> = { name: t?.name ?? String(form.get("name")).trim() };
    const partitions = numberOrNull(String(form.get("partitions")));
    if (partitions !== null) body.partitions = partitions;
    const attempts = numberOrNull(String(form.get("max_attempts")));
    if (attempts !== null) body.max_attempts = attempts;
    body.cleanup = form.get("cleanup");
    const retention = numberOrNull(String(form.get("retention_ms")));
    if (retention !== null) body.retention_ms = retention;
    const events = numberOrNull(String(form.get("retention_events")));
    if (events !== null) body.retention_events = events;
    body.validate = form.get("validate") === "on";
    setBusy(true);
    try {
      await api("POST", "/topics", body);
      setError(null);
      props.onDone();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form-grid" onSubmit={submit} aria-label={t ? `Settings of ${t.name}` : "New topic"}>
      {!t && (
        <label>
          Name
          <input name="name" required pattern="[A-Za-z0-9_.\-]+" autoComplete="off" />
        </label>
      )}
      <label>
        Partitions
        <input name="partitions" type="number" min={t?.partitions ?? 1} max={1024} defaultValue={t?.partitions?.toString()} placeholder="default" />
      </label>
      <label>
        Max attempts
        <input name="max_attempts" type="number" min={1} max={1000} defaultValue={t?.max_attempts?.toString()} placeholder="default" />
      </label>
      <label>
        Cleanup
        <select name="cleanup">
          {CLEANUPS.map((c) => (
            <option key={c} value={c} selected={c === (t?.cleanup ?? "delete")}>
              {c}
            </option>
          ))}
        </select>
      </label>
      <label>
        Retention (ms)
        <input name="retention_ms" type="number" min={0} defaultValue={t?.retention_ms?.toString() ?? ""} placeholder="forever" />
      </label>
      <label>
        Retention (events)
        <input name="retention_events" type="number" min={0} defaultValue={t?.retention_events?.toString() ?? ""} placeholder="no limit" />
      </label>
      <label class="check">
        <input name="validate" type="checkbox" defaultChecked={t?.validate ?? false} />
        Validate values against the schema
      </label>
      <div class="row end span">
        <button type="button" onClick={props.onDone}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {t ? "Save settings" : "Create topic"}
        </button>
      </div>
      <div class="span">
        <ErrorNote error={error} />
      </div>
    </form>
  );
}
