/** One delivery, and how it is settled: `ack()`, `nack(reason)`, `modack(ms)`. */

import type { EventFrame } from "./frames.js";

export interface SettleOptions {
  signal?: AbortSignal;
}

/** What a message needs from its subscription to settle itself. */
export interface Settler {
  settle(
    message: Message<unknown>,
    frame: { op: "ACK" } | { op: "NACK"; reason?: string } | { op: "MODACK"; extend_ms: number },
    options: SettleOptions,
  ): Promise<void>;
}

export class Message<T = unknown> {
  /** The event id (what publish returned). */
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: T;
  /** When the event was stored, epoch ms. */
  readonly ts: number;
  /** 1 on the first delivery, then 2, 3, ... on redeliveries. */
  readonly attempt: number;
  /** Epoch ms after which the gateway redelivers it unless acked or extended (null: no deadline). */
  readonly ackDeadlineMs: number | null;
  readonly causedBy: readonly string[];
  private settledAs: "ack" | "nack" | undefined;
  private settling: Promise<void> | undefined;

  /** Made by the subscription a delivery arrives on. */
  constructor(
    frame: EventFrame,
    private readonly settler: Settler,
    /** The connection it was delivered on (settling needs that same connection). */
    readonly sessionId: number,
  ) {
    const event = frame.event;
    this.id = event.id;
    this.topic = frame.topic;
    this.group = frame.group;
    this.key = event.key ?? undefined;
    this.headers = event.headers ?? {};
    this.payload = event.payload as T;
    this.ts = event.ts;
    this.attempt = frame.ctx.attempt;
    this.ackDeadlineMs = frame.ctx.ack_deadline_ms ?? null;
    this.causedBy = event.caused_by ?? [];
  }

  /** True once `ack()` or `nack()` was called. */
  get settled(): boolean {
    return this.settledAs !== undefined;
  }

  /**
   * Marks the delivery done. Resolves once sent (once the gateway confirmed
   * it with `confirmAcks`). A second call returns the first call's promise.
   * Rejects with code `unknown_delivery` when the message came on a
   * connection that has since been lost (it will be redelivered).
   */
  ack(options: SettleOptions = {}): Promise<void> {
    return this.finish("ack", { op: "ACK" }, options);
  }

  /** Gives the delivery back for redelivery now; `reason` is kept if it ends in the DLQ. */
  nack(reason?: string, options: SettleOptions = {}): Promise<void> {
    const frame: { op: "NACK"; reason?: string } = { op: "NACK" };
    if (reason !== undefined) frame.reason = reason;
    return this.finish("nack", frame, options);
  }

  /** Moves the ack deadline to `extendMs` (0-3600000) from now; 0 redelivers it at once. */
  modack(extendMs: number, options: SettleOptions = {}): Promise<void> {
    return this.settler.settle(this, { op: "MODACK", extend_ms: extendMs }, options);
  }

  private finish(
    as: "ack" | "nack",
    frame: { op: "ACK" } | { op: "NACK"; reason?: string },
    options: SettleOptions,
  ): Promise<void> {
    if (this.settling !== undefined) return this.settling;
    this.settledAs = as;
    this.settling = this.settler.settle(this, frame, options);
    return this.settling;
  }
}
