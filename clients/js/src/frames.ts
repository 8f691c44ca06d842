/**
 * The gateway protocol's frames as TypeScript types, and the decoding of
 * what the gateway sends (docs/protocol.md, "Gateway protocol"). No I/O.
 */

import { BusError } from "./errors.js";

export type Corr = string;

export interface FromSpec {
  kind: "latest" | "earliest" | "offset" | "timestamp";
  value?: number;
}

export interface FilterSpec {
  key?: string;
  header?: [string, string];
}

export type ClientFrame =
  | { op: "AUTH"; token: string; corr?: Corr }
  | {
      op: "PUBLISH";
      topic: string;
      payload: unknown;
      opts?: { key?: string; headers?: Record<string, string>; id?: string };
      corr?: Corr;
    }
  | {
      op: "SUBSCRIBE";
      topic: string;
      group: string;
      opts?: { from?: FromSpec; max_inflight?: number; ackTimeoutMs?: number; filter?: FilterSpec };
      corr?: Corr;
    }
  | { op: "ACK"; topic: string; group: string; id: string; corr?: Corr }
  | { op: "NACK"; topic: string; group: string; id: string; reason?: string; corr?: Corr }
  | { op: "MODACK"; topic: string; group: string; id: string; extend_ms: number; corr?: Corr }
  | { op: "UNSUBSCRIBE"; topic: string; group: string; corr?: Corr };

/** An event as the gateway delivers it (the stored event without its partition). */
export interface WireEvent {
  id: string;
  ts: number;
  topic: string;
  key?: string | null;
  headers?: Record<string, string> | null;
  caused_by?: string[] | null;
  tags?: string[] | null;
  sid?: string | null;
  payload: unknown;
}

export interface OkFrame {
  op: "OK";
  corr?: Corr | number | null;
  id?: string | null;
}

export interface ErrFrame {
  op: "ERR";
  corr?: Corr | number | null;
  code: string;
  msg: string;
  retry_after_ms?: number | null;
}

export interface EventFrame {
  op: "EVENT";
  topic: string;
  group: string;
  event: WireEvent;
  ctx: { attempt: number; ack_deadline_ms: number | null };
}

export type ServerFrame = OkFrame | ErrFrame | EventFrame;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One text message from the gateway as a typed frame, or `BusError("bad_reply")`. */
export function decodeServerFrame(text: string): ServerFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BusError("bad_reply", `the gateway sent a frame that is not JSON: ${text.slice(0, 80)}`);
  }
  if (!isObject(value)) {
    throw new BusError("bad_reply", "the gateway sent a frame that is not an object");
  }
  switch (value["op"]) {
    case "OK":
      return value as unknown as OkFrame;
    case "ERR":
      if (typeof value["code"] !== "string") {
        throw new BusError("bad_reply", "ERR without a code");
      }
      return value as unknown as ErrFrame;
    case "EVENT": {
      const event = value["event"];
      const ctx = value["ctx"];
      if (
        typeof value["topic"] !== "string" ||
        typeof value["group"] !== "string" ||
        !isObject(event) ||
        typeof event["id"] !== "string" ||
        !isObject(ctx) ||
        typeof ctx["attempt"] !== "number"
      ) {
        throw new BusError("bad_reply", "EVENT without topic, group, event.id or ctx.attempt");
      }
      return value as unknown as EventFrame;
    }
    default:
      throw new BusError("bad_reply", `the gateway sent an unknown op: ${String(value["op"])}`);
  }
}

/** The wire text of a client frame. */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
