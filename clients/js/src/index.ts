/**
 * `@promethean/client`: the Promethean Event Bus gateway client for
 * browsers and Node.js (docs/js-client.md).
 */

export { connect, Client } from "./client.js";
export type { ClientEvents, ClientStats, ConnectOptions, ConnectionState, StateChange } from "./client.js";
export { Message } from "./message.js";
export type { SettleOptions } from "./message.js";
export { Subscription } from "./subscription.js";
export type { Handler, StartFrom, SubscribeOptions } from "./subscription.js";
export type { PublishOptions, PublishResult } from "./publisher.js";
export { httpPublish, httpBase } from "./http.js";
export type { HttpPublishOptions } from "./http.js";
export {
  BusError,
  ClosedError,
  ConnectionLostError,
  RETRYABLE_CODES,
  TimeoutError,
} from "./errors.js";
export type { ErrorCode, LocalCode, ProtocolCode } from "./errors.js";
export type { BackoffOptions } from "./backoff.js";
export type { TokenSource } from "./token.js";
export type { WebSocketConstructor, WebSocketLike } from "./socket.js";
export { randomId } from "./ids.js";
