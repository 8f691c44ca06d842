/**
 * Publishes waiting for the gateway's `OK`: at most `maxPending` at a time
 * (further calls wait for a slot), each re-sent with its own id after a
 * reconnect and after `overloaded`/`rate_limited` (once `retry_after_ms` has
 * passed), so a retried publish is stored once.
 */

import { BusError, ClosedError, TimeoutError, abortReason } from "./errors.js";
import type { ClientFrame } from "./frames.js";
import { randomId } from "./ids.js";
import type { Session } from "./session.js";

export interface PublishOptions {
  /** Partition and compaction key. */
  key?: string;
  /** Idempotency id; a random one by default, so retries are stored once. */
  id?: string;
  /** Event headers (string values). */
  headers?: Record<string, string>;
  /** Give up after this many ms, retries and reconnects included (default: the client's `publishTimeoutMs`; 0: never). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PublishResult {
  /** The event id (the one given, or the random one the client chose). */
  id: string;
  topic: string;
}

export interface PublisherHost {
  /** The open session, if any. */
  current(): Session | undefined;
  /** The session hit `token_expired`: authenticate again (publishes wait for the next open). */
  reauthenticate(session: Session): void;
  readonly stats: { publishRetries: number; publishesResent: number };
}

interface Pending {
  readonly frame: Extract<ClientFrame, { op: "PUBLISH" }>;
  readonly id: string;
  sentOn: Session | undefined;
  /** Sent at least once (a later send is a resend). */
  sent: boolean;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  settle(error: unknown, result?: PublishResult): void;
}

const RETRY_JITTER = 0.2;
const DEFAULT_RETRY_MS = 100;

export class Publisher {
  private readonly pending = new Set<Pending>();
  private readonly slotWaiters: Array<() => void> = [];
  private readonly drainWaiters: Array<() => void> = [];
  private closed = false;
  /** Slots taken: pending publishes plus callers granted a slot a moment ago. */
  private inUse = 0;

  constructor(
    private readonly host: PublisherHost,
    private readonly maxPending: number,
    private readonly defaultTimeoutMs: number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const { signal } = options;
    if (this.closed) return Promise.reject(new ClosedError());
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const id = options.id ?? randomId();
    const opts: NonNullable<Pending["frame"]["opts"]> = { id };
    if (options.key !== undefined) opts.key = options.key;
    if (options.headers !== undefined) opts.headers = options.headers;
    const frame: Pending["frame"] = { op: "PUBLISH", topic, payload: payload ?? null, opts };
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
    const start = (): Promise<PublishResult> => this.start(frame, id, timeoutMs, deadline, signal);
    if (this.inUse < this.maxPending && this.slotWaiters.length === 0) {
      this.inUse++;
      return start();
    }
    return this.waitForSlot(signal, deadline).then(start);
  }

  private start(
    frame: Pending["frame"],
    id: string,
    timeoutMs: number,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve, reject) => {
      const timer =
        deadline !== undefined
          ? setTimeout(
              () => entry.settle(new TimeoutError(`publish to ${frame.topic} not confirmed within ${timeoutMs} ms`)),
              Math.max(0, deadline - Date.now()),
            )
          : undefined;
      const onAbort = (): void => entry.settle(abortReason(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      const entry: Pending = {
        frame,
        id,
        sentOn: undefined,
        sent: false,
        retryTimer: undefined,
        settle: (error, result) => {
          if (!this.pending.delete(entry)) return;
          clearTimeout(timer);
          clearTimeout(entry.retryTimer);
          signal?.removeEventListener("abort", onAbort);
          this.releaseSlot();
          if (result !== undefined) resolve(result);
          else reject(error);
        },
      };
      this.pending.add(entry);
      this.send(entry);
    });
  }

  /** A new session is open: send every publish not in flight on it. */
  resume(session: Session): void {
    for (const entry of this.pending) {
      if (entry.sentOn !== session && entry.retryTimer === undefined) this.send(entry);
    }
  }

  /** Refuse new publishes (those pending carry on). */
  stopAccepting(): void {
    this.closed = true;
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  /** Resolves when no publish is pending. */
  drained(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  failAll(error: unknown): void {
    for (const entry of [...this.pending]) entry.settle(error);
  }

  private send(entry: Pending): void {
    const session = this.host.current();
    if (session === undefined || !session.open) {
      entry.sentOn = undefined;
      return;
    }
    if (entry.sent) this.host.stats.publishesResent++;
    entry.sent = true;
    entry.sentOn = session;
    session.request(entry.frame, 0).then(
      (ok) => entry.settle(undefined, { id: typeof ok.id === "string" ? ok.id : entry.id, topic: entry.frame.topic }),
      (error: unknown) => this.failed(entry, session, error),
    );
  }

  private failed(entry: Pending, session: Session, error: unknown): void {
    if (!this.pending.has(entry)) return;
    entry.sentOn = undefined;
    if (!(error instanceof BusError)) {
      entry.settle(error);
      return;
    }
    if (error.code === "connection_lost") return; // re-sent on the next session
    if (error.code === "token_expired") {
      this.host.reauthenticate(session);
      return;
    }
    if (error.retryable) {
      this.host.stats.publishRetries++;
      const base = error.retryAfterMs ?? DEFAULT_RETRY_MS;
      const delay = Math.round(base * (1 + Math.random() * RETRY_JITTER));
      entry.retryTimer = setTimeout(() => {
        entry.retryTimer = undefined;
        if (this.pending.has(entry)) this.send(entry);
      }, delay);
      return;
    }
    entry.settle(error);
  }

  private waitForSlot(signal: AbortSignal | undefined, deadline: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer =
        deadline !== undefined
          ? setTimeout(() => finish(new TimeoutError("no publish slot became free in time")), deadline - Date.now())
          : undefined;
      const onAbort = (): void => finish(abortReason(signal!));
      const wake = (): void => {
        if (!this.closed) this.inUse++;
        finish(this.closed ? new ClosedError() : undefined);
      };
      const finish = (error: unknown): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const index = this.slotWaiters.indexOf(wake);
        if (index >= 0) this.slotWaiters.splice(index, 1);
        if (error === undefined) resolve();
        else reject(error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.slotWaiters.push(wake);
    });
  }

  private releaseSlot(): void {
    this.inUse--;
    if (this.inUse < this.maxPending) this.slotWaiters[0]?.();
    if (this.pending.size === 0) for (const wake of this.drainWaiters.splice(0)) wake();
  }
}
