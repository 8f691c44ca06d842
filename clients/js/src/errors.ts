/**
 * Typed errors. Every refusal from the gateway becomes a {@link BusError}
 * whose `code` is the protocol's error code (docs/protocol.md, "Error codes");
 * failures the client detects itself use the codes in {@link LocalCode}.
 */

/** The gateway's stable error codes. An unknown code is treated like `internal`. */
export type ProtocolCode =
  | "frame_too_large"
  | "bad_json"
  | "bad_frame"
  | "missing_type"
  | "unknown_type"
  | "missing_field"
  | "bad_field"
  | "bad_name"
  | "payload_too_large"
  | "headers_too_large"
  | "unauthorized"
  | "forbidden"
  | "token_expired"
  | "overloaded"
  | "rate_limited"
  | "not_subscribed"
  | "unknown_delivery"
  | "stale_generation"
  | "fenced"
  | "not_leader"
  | "store_unavailable"
  | "too_many_connections"
  | "slow_consumer"
  | "internal";

/** Codes of failures the client detects without a reply from the gateway. */
export type LocalCode =
  /** The client was closed, or closed itself after a permanent failure. */
  | "closed"
  /** A call did not complete within its timeout. */
  | "timeout"
  /** The connection was lost; the operation may be retried. */
  | "connection_lost"
  /** A frame from the gateway could not be understood. */
  | "bad_reply"
  /** An HTTP publish failed without a protocol error body. */
  | "http_error";

export type ErrorCode = ProtocolCode | LocalCode;

const PROTOCOL_CODES: ReadonlySet<string> = new Set<ProtocolCode>([
  "frame_too_large", "bad_json", "bad_frame", "missing_type", "unknown_type",
  "missing_field", "bad_field", "bad_name", "payload_too_large", "headers_too_large",
  "unauthorized", "forbidden", "token_expired", "overloaded", "rate_limited",
  "not_subscribed", "unknown_delivery", "stale_generation", "fenced", "not_leader",
  "store_unavailable", "too_many_connections", "slow_consumer", "internal",
]);

/** Codes for which the same request may succeed later (honoured automatically for publishes). */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "overloaded", "rate_limited", "not_leader", "store_unavailable", "too_many_connections",
]);

/** The protocol code for a wire string: unknown codes map to `internal`. */
export function protocolCode(code: string): ProtocolCode {
  return PROTOCOL_CODES.has(code) ? (code as ProtocolCode) : "internal";
}

export class BusError extends Error {
  override readonly name: string = "BusError";
  /** The protocol's (or the client's) error code. */
  readonly code: ErrorCode;
  /** Set with `overloaded`, `rate_limited` and `too_many_connections`: when to retry. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** True when the same request may succeed later. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code) || this.code === "connection_lost";
  }
}

/** The client is closed (or closing): nothing new is accepted. */
export class ClosedError extends BusError {
  override readonly name = "ClosedError";
  constructor(message = "the client is closed") {
    super("closed", message);
  }
}

/** A call did not complete in time. */
export class TimeoutError extends BusError {
  override readonly name = "TimeoutError";
  constructor(message: string) {
    super("timeout", message);
  }
}

/** The connection was lost before the gateway answered. */
export class ConnectionLostError extends BusError {
  override readonly name = "ConnectionLostError";
  constructor(message = "the connection to the gateway was lost") {
    super("connection_lost", message);
  }
}

/** The error for an `ERR` frame. */
export function fromErrFrame(code: string, msg: string, retryAfterMs?: number | null): BusError {
  return new BusError(protocolCode(code), msg, retryAfterMs ?? undefined);
}

/** `signal.reason` as the rejection of an aborted call (an `AbortError` DOMException by default). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}
