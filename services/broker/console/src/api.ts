// Calls to the broker's admin API with the signed-in token, and live views
// read as server-sent events over fetch (so the token goes in a header,
// never in a URL).

const TOKEN_KEY = "promethean.console.token";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    msg: string,
  ) {
    super(msg);
  }
}

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = savedToken();
  return token ? { Authorization: `Bearer ${token}`, ...extra } : extra;
}

async function failure(reply: Response): Promise<ApiError> {
  try {
    const body = await reply.json();
    return new ApiError(reply.status, body?.error?.code ?? "error", body?.error?.msg ?? reply.statusText);
  } catch {
    return new ApiError(reply.status, "error", reply.statusText);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let reply: Response;
  try {
    reply = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "unreachable", `the broker did not answer: ${err}`);
  }
  if (!reply.ok) throw await failure(reply);
  return (await reply.json()) as T;
}

export const get = <T>(path: string) => api<T>("GET", path);

export type StreamState = "connecting" | "live" | "closed" | "error";

export interface StreamHandlers {
  onEvent(event: string, data: unknown): void;
  onState(state: StreamState, error?: ApiError): void;
}

const RETRY_MS = 2000;

// Opens `path` as an event stream; reconnects after a drop; returns a stop function.
export function openStream(path: string | (() => string), handlers: StreamHandlers): () => void {
  const control = new AbortController();
  let stopped = false;
  const run = async () => {
    while (!stopped) {
      handlers.onState("connecting");
      try {
        const url = typeof path === "function" ? path() : path;
        const reply = await fetch(url, { headers: headers({ Accept: "text/event-stream" }), signal: control.signal });
        if (!reply.ok || !reply.body) {
          const err = await failure(reply);
          handlers.onState("error", err);
          if (reply.status === 401 || reply.status === 403 || reply.status === 404 || reply.status === 400) return;
        } else {
          handlers.onState("live");
          await readEvents(reply.body, handlers.onEvent);
        }
      } catch (err) {
        if (stopped) return;
        handlers.onState("error", new ApiError(0, "unreachable", String(err)));
      }
      if (stopped) return;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  };
  void run();
  return () => {
    stopped = true;
    control.abort();
    handlers.onState("closed");
  };
}

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: unknown) => void) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      end = buffer.indexOf("\n\n");
    }
  }
}
