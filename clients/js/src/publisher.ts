/**
 * Publishes waiting for the gateway's `OK`: at most `maxPending` at a time
 * (further calls wait for a slot, in call order), each re-sent with its own
 * id after a reconnect and after `overloaded`/`rate_limited` (once
 * `retry_after_ms` has passed), so a retried publish is stored once.
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
  /** Give up after this many ms, waiting for a slot, retries and reconnects included (default: the client's `publishTimeoutMs`; 0: never). */
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

/** One publish call, from waiting for a slot to its `OK` (or failure). */
interface Ticket {
  readonly frame: Extract<ClientFrame, { op: "PUBLISH" }>;
  readonly id: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (result: PublishResult) => void;
  readonly reject: (error: unknown) => void;
  /** Set once it holds a slot (it is in `pending`). */
  holdsSlot: boolean;
  done: boolean;
  /** The session it is in flight on, awaiting `OK`. */
  sentOn: Session | undefined;
  /** Sent at least once (a later send is a resend). */
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;
}

const RETRY_JITTER = 0.2;
const DEFAULT_RETRY_MS = 100;
const COMPACT_AFTER = 1024;

export class Publisher {
  private readonly pending = new Set<Ticket>();
  /** Calls waiting for a slot, oldest first from `head` (finished ones are skipped). */
  private waiting: Ticket[] = [];
  private head = 0;
  private readonly drainWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly host: PublisherHost,
    private readonly maxPending: number,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** Publishes holding a slot: sent or waiting to be (re)sent, not yet confirmed. */
  get size(): number {
    return this.pending.size;
  }

  publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const { signal } = options;
    if (this.closed) return Promise.reject(new ClosedError());
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const id = options.id ?? randomId();
    const opts: NonNullable<Ticket["frame"]["opts"]> = { id };
    if (options.key !== undefined) opts.key = options.key;
    if (options.headers !== undefined) opts.headers = options.headers;
    const frame: Ticket["frame"] = { op: "PUBLISH", topic, payload: payload ?? null, opts };
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<PublishResult>((resolve, reject) => {
      const ticket: Ticket = {
        frame,
        id,
        timeoutMs,
        signal,
        resolve,
        reject,
        holdsSlot: false,
        done: false,
        sentOn: undefined,
        sent: false,
        timer: undefined,
        retryTimer: undefined,
        onAbort: undefined,
      };
      // One timer per call, all of the same duration (cheap for the runtime's timer lists).
      if (timeoutMs > 0) ticket.timer = setTimeout(() => this.expire(ticket), timeoutMs);
      if (signal !== undefined) {
        ticket.onAbort = () => this.finish(ticket, abortReason(signal));
        signal.addEventListener("abort", ticket.onAbort, { once: true });
      }
      if (this.pending.size < this.maxPending && this.noneWaiting()) this.begin(ticket);
      else this.waiting.push(ticket);
    });
  }

  /** A new session is open: send every publish not in flight on it. */
  resume(session: Session): void {
    for (const ticket of this.pending) {
      if (ticket.sentOn !== session && ticket.retryTimer === undefined) this.send(ticket);
    }
  }

  /** Refuse new publishes; those already called (waiting for a slot or for `OK`) carry on. */
  stopAccepting(): void {
    this.closed = true;
  }

  /** Resolves when no publish is waiting for a slot or for its `OK`. */
  drained(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Fails every publish not yet confirmed, and refuses new ones. */
  failAll(error: unknown): void {
    this.closed = true;
    const waiting = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    for (const ticket of waiting) this.finish(ticket, error);
    for (const ticket of [...this.pending]) this.finish(ticket, error);
  }

  /** True when no live call waits for a slot (finished ones at the head are skipped). */
  private noneWaiting(): boolean {
    while (this.head < this.waiting.length && this.waiting[this.head]!.done) this.head++;
    return this.head === this.waiting.length;
  }

  private idle(): boolean {
    return this.pending.size === 0 && this.noneWaiting();
  }

  private begin(ticket: Ticket): void {
    ticket.holdsSlot = true;
    this.pending.add(ticket);
    this.send(ticket);
  }

  private send(ticket: Ticket): void {
    const session = this.host.current();
    if (session === undefined || !session.open) {
      ticket.sentOn = undefined;
      return;
    }
    if (ticket.sent) this.host.stats.publishesResent++;
    ticket.sent = true;
    ticket.sentOn = session;
    session.request(ticket.frame, 0).then(
      (ok) => this.finish(ticket, undefined, { id: typeof ok.id === "string" ? ok.id : ticket.id, topic: ticket.frame.topic }),
      (error: unknown) => this.failed(ticket, session, error),
    );
  }

  private failed(ticket: Ticket, session: Session, error: unknown): void {
    if (ticket.done) return;
    ticket.sentOn = undefined;
    if (!(error instanceof BusError)) {
      this.finish(ticket, error);
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
      ticket.retryTimer = setTimeout(() => {
        ticket.retryTimer = undefined;
        if (!ticket.done) this.send(ticket);
      }, delay);
      return;
    }
    this.finish(ticket, error);
  }

  private expire(ticket: Ticket): void {
    const what = ticket.holdsSlot ? "not confirmed" : "still waiting for a publish slot";
    this.finish(ticket, new TimeoutError(`publish to ${ticket.frame.topic} ${what} after ${ticket.timeoutMs} ms`));
  }

  private finish(ticket: Ticket, error: unknown, result?: PublishResult): void {
    if (ticket.done) return;
    ticket.done = true;
    clearTimeout(ticket.timer);
    clearTimeout(ticket.retryTimer);
    if (ticket.onAbort !== undefined) ticket.signal?.removeEventListener("abort", ticket.onAbort);
    if (ticket.holdsSlot) {
      this.pending.delete(ticket);
      this.releaseSlot();
    } else if (this.drainWaiters.length > 0 && this.idle()) {
      for (const wake of this.drainWaiters.splice(0)) wake();
    }
    if (result !== undefined) ticket.resolve(result);
    else ticket.reject(error);
  }

  private releaseSlot(): void {
    while (this.pending.size < this.maxPending && this.head < this.waiting.length) {
      const next = this.waiting[this.head++]!;
      if (!next.done) this.begin(next);
    }
    if (this.head > COMPACT_AFTER && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    if (this.drainWaiters.length > 0 && this.idle()) for (const wake of this.drainWaiters.splice(0)) wake();
  }
}
