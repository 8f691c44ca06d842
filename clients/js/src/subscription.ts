/**
 * One subscription (topic + group) as the client keeps it across
 * reconnects: re-sent as `SUBSCRIBE` on every new connection, its events
 * handed to a handler (ack on resolve, nack on reject) or queued for an
 * async iterator.
 */

import { BusError, abortReason } from "./errors.js";
import type { ClientFrame, FilterSpec, FromSpec } from "./frames.js";
import { Message, type SettleOptions } from "./message.js";
import { AsyncQueue } from "./queue.js";
import type { EventFrame } from "./frames.js";
import type { Session } from "./session.js";

/** Where a group without a committed position starts reading. */
export type StartFrom = "latest" | "earliest" | { offset: number } | { timestamp: number | Date };

export interface SubscribeOptions {
  /** Where a new group starts (default `"latest"`); ignored once the group has committed. */
  from?: StartFrom;
  /** Unacked deliveries at a time on this subscription (the gateway may lower it). */
  maxInflight?: number;
  /** How long a delivery may stay unacked before it is redelivered (100-3600000 ms). */
  ackTimeoutMs?: number;
  /** Deliver only events with this key and/or header. */
  filter?: { key?: string; header?: [string, string] };
  /** Send `ACK` with a `corr` and resolve `ack()` only on the gateway's `OK` (default false: fire and forget). */
  confirmAcks?: boolean;
  /** Iterator mode: how many deliveries wait for the reader (default 2 × maxInflight, or 256). */
  bufferSize?: number;
  signal?: AbortSignal;
}

/** Called for every delivery; the message is acked when it resolves and nacked (with the error) when it rejects. */
export type Handler<T> = (message: Message<T>) => unknown;

export interface SubscriptionHost {
  current(): Session | undefined;
  readonly requestTimeoutMs: number;
  reauthenticate(session: Session): void;
  forget(subscription: Subscription<unknown>): void;
  reportError(error: unknown): void;
}

const RESUBSCRIBE_RETRY_MS = 500;
const MAX_REASON_CHARS = 2_000;
const DEFAULT_BUFFER = 256;

export function fromSpec(from: StartFrom): FromSpec {
  if (from === "latest" || from === "earliest") return { kind: from };
  if ("offset" in from) return { kind: "offset", value: from.offset };
  const ts = from.timestamp instanceof Date ? from.timestamp.getTime() : from.timestamp;
  return { kind: "timestamp", value: ts };
}

function reasonOf(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_REASON_CHARS);
}

export class Subscription<T = unknown> implements AsyncIterable<Message<T>> {
  private readonly frame: Extract<ClientFrame, { op: "SUBSCRIBE" }>;
  private readonly queue: AsyncQueue<Message<T>> | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly confirmAcks: boolean;
  private closed = false;
  private draining = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly readiness: Promise<void>;
  private ready!: () => void;
  private failReady!: (error: unknown) => void;
  private isReady = false;
  private closing: Promise<void> | undefined;
  private deliveries = 0;

  /** Made by `Client.subscribe`. */
  constructor(
    readonly topic: string,
    readonly group: string,
    private readonly host: SubscriptionHost,
    private readonly handler: Handler<T> | undefined,
    options: SubscribeOptions,
  ) {
    const opts: NonNullable<Extract<ClientFrame, { op: "SUBSCRIBE" }>["opts"]> = {};
    if (options.from !== undefined) opts.from = fromSpec(options.from);
    if (options.maxInflight !== undefined) opts.max_inflight = options.maxInflight;
    if (options.ackTimeoutMs !== undefined) opts.ackTimeoutMs = options.ackTimeoutMs;
    if (options.filter !== undefined) opts.filter = options.filter as FilterSpec;
    this.frame = { op: "SUBSCRIBE", topic, group, opts };
    this.confirmAcks = options.confirmAcks ?? false;
    if (handler === undefined) {
      const inflight = options.maxInflight !== undefined ? options.maxInflight * 2 : DEFAULT_BUFFER;
      this.queue = new AsyncQueue(options.bufferSize ?? inflight);
    }
    this.readiness = new Promise<void>((resolve, reject) => {
      this.ready = resolve;
      this.failReady = reject;
    });
    this.readiness.catch(() => undefined);
  }

  /** Deliveries received so far (redeliveries included). */
  get delivered(): number {
    return this.deliveries;
  }

  /** False once unsubscribed or refused. */
  get active(): boolean {
    return !this.closed;
  }

  /** @internal resolves on the gateway's first `OK`, rejects if it refuses the subscription. */
  whenReady(signal?: AbortSignal): Promise<void> {
    if (signal === undefined) return this.readiness;
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      this.readiness.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** @internal a (new) session is open: subscribe on it. */
  attach(session: Session): void {
    if (this.closed || this.draining) return;
    // Deliveries of a lost connection can no longer be settled; the gateway redelivers them.
    this.queue?.removeWhere((message) => message.sessionId !== session.id);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    session.request(this.frame, this.host.requestTimeoutMs).then(
      () => {
        if (this.closed) return;
        this.isReady = true;
        this.ready();
      },
      (error: unknown) => this.refused(session, error),
    );
  }

  private refused(session: Session, error: unknown): void {
    if (this.closed || this.host.current() !== session) return; // the next session subscribes again
    if (error instanceof BusError) {
      if (error.code === "connection_lost") return;
      if (error.code === "token_expired") {
        this.host.reauthenticate(session);
        return;
      }
      if (error.retryable || error.code === "timeout") {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (this.host.current() === session && session.open) this.attach(session);
        }, error.retryAfterMs ?? RESUBSCRIBE_RETRY_MS);
        return;
      }
    }
    this.fail(error);
  }

  /** @internal the subscription can no longer be served (refused, or the client closed). */
  fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.host.forget(this as Subscription<unknown>);
    this.queue?.end();
    if (this.isReady) this.host.reportError(error);
    else this.failReady(error);
  }

  /** @internal an `EVENT` for this subscription. */
  deliver(frame: EventFrame, session: Session): void {
    if (this.closed || this.draining) return; // the gateway takes it back when we unsubscribe
    this.deliveries++;
    const message = new Message<T>(frame, this, session.id);
    if (this.handler !== undefined) {
      const run = this.run(this.handler, message);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
      return;
    }
    const queue = this.queue!;
    if (queue.replace((queued) => queued.id === message.id, message)) return;
    if (!queue.push(message)) {
      message.nack("client buffer full").catch(() => undefined);
    }
  }

  private async run(handler: Handler<T>, message: Message<T>): Promise<void> {
    let failure: unknown;
    let ok = false;
    try {
      await handler(message);
      ok = true;
    } catch (error) {
      failure = error;
    }
    if (message.settled) return;
    try {
      if (ok) await message.ack();
      else await message.nack(reasonOf(failure));
    } catch (error) {
      if (!(error instanceof BusError && error.code === "unknown_delivery")) this.host.reportError(error);
    }
  }

  /** @internal Settler: send ACK / NACK / MODACK for a message of this subscription. */
  settle(
    message: Message<unknown>,
    frame: { op: "ACK" } | { op: "NACK"; reason?: string } | { op: "MODACK"; extend_ms: number },
    options: SettleOptions,
  ): Promise<void> {
    const session = this.host.current();
    if (session === undefined || session.id !== message.sessionId || !session.open) {
      return Promise.reject(
        new BusError(
          "unknown_delivery",
          `event ${message.id} was delivered on a connection that has since closed; it will be redelivered`,
        ),
      );
    }
    const full = { ...frame, topic: this.topic, group: this.group, id: message.id } as ClientFrame;
    if (frame.op === "ACK" && !this.confirmAcks) {
      if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
      session.send(full);
      return Promise.resolve();
    }
    return session.request(full, this.host.requestTimeoutMs, options.signal).then(() => undefined);
  }

  /**
   * Stops the subscription: no new deliveries are taken, running handlers
   * finish (their acks are sent), then `UNSUBSCRIBE` gives anything still
   * unacked back to the group. Ends the async iterator.
   */
  unsubscribe(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.closing ??= this.stop();
    if (options.signal === undefined) return this.closing;
    const signal = options.signal;
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      this.closing!.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private async stop(): Promise<void> {
    this.draining = true;
    this.queue?.end();
    await Promise.allSettled([...this.running]);
    const wasActive = !this.closed;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.host.forget(this as Subscription<unknown>);
    if (!this.isReady) this.failReady(new BusError("closed", "unsubscribed before the gateway confirmed"));
    const session = this.host.current();
    if (!wasActive || session === undefined || !session.open) return;
    try {
      await session.request({ op: "UNSUBSCRIBE", topic: this.topic, group: this.group }, this.host.requestTimeoutMs);
    } catch (error) {
      if (error instanceof BusError && (error.code === "not_subscribed" || error.code === "connection_lost")) return;
      throw error;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Message<T>, undefined> {
    const queue = this.queue;
    if (queue === undefined) throw new TypeError("a subscription with a handler is not iterable");
    return {
      next: () => queue.next(),
      return: async () => {
        await this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}
