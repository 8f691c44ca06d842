/**
 * `httpPublish`: one event through the gateway's `POST /publish/{topic}`,
 * for code that has no WebSocket open (serverless functions, scripts).
 * `overloaded` and `rate_limited` (429) are retried after `retry_after_ms`.
 */

import { BusError, TimeoutError, abortReason, protocolCode } from "./errors.js";
import { randomId } from "./ids.js";
import type { PublishResult } from "./publisher.js";

export interface HttpPublishOptions {
  key?: string;
  /** Idempotency id; a random one by default, so the automatic retries are stored once. */
  id?: string;
  /** Event headers, sent as `X-Promethean-Header-<name>` (names are lower-cased by the gateway). */
  headers?: Record<string, string>;
  /** Give up retrying `overloaded` after this many ms (default 30000). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_MS = 100;

/** The gateway's HTTP base for `http(s)://host:port` or its WebSocket URL (`ws://host:port/ws`). */
export function httpBase(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === "ws:") parsed.protocol = "http:";
  if (parsed.protocol === "wss:") parsed.protocol = "https:";
  if (parsed.pathname.endsWith("/ws")) parsed.pathname = parsed.pathname.slice(0, -3);
  return parsed.toString().replace(/\/$/, "");
}

/** Publishes `payload` to `topic` over HTTP; resolves with the event id once it is durable. */
export async function httpPublish(
  baseUrl: string,
  token: string | (() => string | Promise<string>),
  topic: string,
  payload: unknown,
  options: HttpPublishOptions = {},
): Promise<PublishResult> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const id = options.id ?? randomId();
  const url = new URL(`${httpBase(baseUrl)}/publish/${encodeURIComponent(topic)}`);
  url.searchParams.set("id", id);
  if (options.key !== undefined) url.searchParams.set("key", options.key);
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const body = JSON.stringify(payload ?? null);
  for (;;) {
    if (options.signal?.aborted) throw abortReason(options.signal);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      Authorization: `Bearer ${typeof token === "function" ? await token() : token}`,
    };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      headers[`X-Promethean-Header-${name}`] = value;
    }
    const init: RequestInit = { method: "POST", headers, body };
    if (options.signal !== undefined) init.signal = options.signal;
    const response = await fetchImpl(url, init);
    const text = await response.text();
    if (response.ok) {
      const reply = parse(text) as { id?: unknown } | undefined;
      return { id: typeof reply?.id === "string" ? reply.id : id, topic };
    }
    const error = errorOf(response.status, text, response.headers.get("Retry-After"));
    if (!error.retryable) throw error;
    const wait = error.retryAfterMs ?? DEFAULT_RETRY_MS;
    if (Date.now() + wait > deadline) {
      throw new TimeoutError(`HTTP publish to ${topic} still refused (${error.code}) when its time ran out`);
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(options.signal!));
      };
      const timer = setTimeout(() => {
        options.signal?.removeEventListener("abort", onAbort);
        resolve();
      }, wait);
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(status: number, text: string, retryAfter: string | null): BusError {
  const body = parse(text) as { error?: { code?: unknown; msg?: unknown; retry_after_ms?: unknown } } | undefined;
  const detail = body?.error;
  if (detail !== undefined && typeof detail.code === "string") {
    const retry = detail.retry_after_ms;
    const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
    return new BusError(
      protocolCode(detail.code),
      typeof detail.msg === "string" ? detail.msg : `HTTP ${status}`,
      typeof retry === "number" ? retry : Number.isFinite(seconds) ? seconds * 1000 : undefined,
    );
  }
  return new BusError("http_error", `HTTP ${status}: ${text.slice(0, 200)}`);
}
