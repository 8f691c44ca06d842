/**
 * The client: one connection to the gateway at a time, repaired with
 * jittered backoff; the token fetched on every (re)connect and refreshed
 * before it expires; subscriptions resumed and pending publishes re-sent
 * on every new connection; `close()` drains.
 */

import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from "./backoff.js";
import { BusError, ClosedError, TimeoutError, abortReason } from "./errors.js";
import type { EventFrame } from "./frames.js";
import { Emitter } from "./emitter.js";
import { type PublishOptions, type PublishResult, Publisher } from "./publisher.js";
import { Session } from "./session.js";
import { type WebSocketConstructor, resolveWebSocket } from "./socket.js";
import { type Handler, type SubscribeOptions, Subscription } from "./subscription.js";
import { type TokenSource, jwtExpiresAt, refreshDelay } from "./token.js";

export type ConnectionState = "connecting" | "open" | "closing" | "closed";

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Why the connection closed or the client stopped, when known. */
  error?: unknown;
  /** While `connecting`: the number of this attempt (1 for the first). */
  attempt?: number;
}

export interface ClientEvents {
  state: StateChange;
  /** Failures no call is waiting for: a subscription the gateway stopped allowing, a failed token refresh, a pushed `ERR`. */
  error: unknown;
}

export type ConnectOptions = TokenSource & {
  /** Abort the first connection attempt(s). */
  signal?: AbortSignal;
  /** How long `connect()` keeps trying before it rejects (default 30000 ms). */
  connectTimeoutMs?: number;
  /** One attempt: WebSocket open plus `AUTH` reply (default 10000 ms). */
  attemptTimeoutMs?: number;
  /** SUBSCRIBE / UNSUBSCRIBE / NACK / MODACK replies (default 30000 ms). */
  requestTimeoutMs?: number;
  /** How long a publish may wait for `OK`, retries and reconnects included (default 60000 ms; 0: no limit). */
  publishTimeoutMs?: number;
  /** Publishes waiting for `OK` at a time; further `publish()` calls wait for a slot (default 1024). */
  maxPendingPublishes?: number;
  /** Refresh a JWT from `getToken` this long before its `exp` (default 30000 ms, at most half its remaining life). */
  refreshBeforeMs?: number;
  /** Reconnect backoff (default 100 ms doubling to 5000 ms, jittered). */
  backoff?: BackoffOptions;
  /** A WebSocket implementation, where there is no global one and `ws` is not wanted. */
  WebSocket?: WebSocketConstructor;
};

/** Counters for monitoring and tests. */
export interface ClientStats {
  /** Connections opened after the first. */
  reconnects: number;
  /** Publishes re-sent after `overloaded` / `rate_limited`. */
  publishRetries: number;
  /** Publishes re-sent on a new connection. */
  publishesResent: number;
  /** Tokens replaced on an open connection (`AUTH` again). */
  tokenRefreshes: number;
}

const DEFAULTS = {
  connectTimeoutMs: 30_000,
  attemptTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  publishTimeoutMs: 60_000,
  maxPendingPublishes: 1024,
  refreshBeforeMs: 30_000,
};
const CLOSE_TIMEOUT_MS = 10_000;
const CLOSE_UNAUTHORIZED = 4401;

/** Connects to the gateway at `url` (`ws://host:8090/ws`); resolves once authenticated. */
export async function connect(url: string, options: ConnectOptions): Promise<Client> {
  const client = new Client(url, options);
  await client.start(options.signal);
  return client;
}

export class Client {
  readonly stats: ClientStats = { reconnects: 0, publishRetries: 0, publishesResent: 0, tokenRefreshes: 0 };
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly publisher: Publisher;
  private readonly subscriptions = new Map<string, Subscription<unknown>>();
  private readonly settings: typeof DEFAULTS;
  private readonly backoff: Required<BackoffOptions>;
  private readonly lifetime = new AbortController();
  private Ctor: WebSocketConstructor | undefined;
  private session: Session | undefined;
  private currentState: ConnectionState = "connecting";
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private opened = false;
  private reconnecting = false;
  private closing: Promise<void> | undefined;

  /** Use `connect()`, which also opens the first connection. */
  constructor(
    readonly url: string,
    private readonly options: ConnectOptions,
  ) {
    const protocol = /^(wss?):\/\//i.exec(url);
    if (protocol === null) throw new TypeError(`the gateway URL must start with ws:// or wss://, got ${JSON.stringify(url)}`);
    if (options.token === undefined && typeof options.getToken !== "function") {
      throw new TypeError("connect() needs a token or a getToken function");
    }
    this.settings = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const value = options[key];
      if (value === undefined) continue;
      const least = key === "publishTimeoutMs" ? 0 : 1;
      if (typeof value !== "number" || !Number.isFinite(value) || value < least) {
        throw new RangeError(`${key} must be a number >= ${least}, got ${String(value)}`);
      }
      this.settings[key] = value;
    }
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const host = this.host();
    this.publisher = new Publisher(host, this.settings.maxPendingPublishes, this.settings.publishTimeoutMs);
  }

  /** `connecting`, `open`, `closing` or `closed`. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** Listens to `state` changes or `error`s; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** Publishes waiting for the gateway's `OK`. */
  get pendingPublishes(): number {
    return this.publisher.size;
  }

  /**
   * Publishes one event; resolves with its id once the gateway stored it.
   * Survives reconnects and `overloaded` (re-sent with the same id).
   */
  publish(topic: string, payload: unknown, options?: PublishOptions): Promise<PublishResult> {
    if (typeof topic !== "string") return Promise.reject(new TypeError("the topic must be a string"));
    if (this.closing !== undefined) return Promise.reject(new ClosedError());
    return this.publisher.publish(topic, payload, options);
  }

  /** Subscribes with a handler: acked when it resolves, nacked with the error when it rejects. */
  subscribe<T = unknown>(topic: string, group: string, handler: Handler<T>, options?: SubscribeOptions): Promise<Subscription<T>>;
  /** Subscribes for `for await (const message of subscription)`; settle each with `ack()`, `nack()` or `modack()`. */
  subscribe<T = unknown>(topic: string, group: string, options?: SubscribeOptions): Promise<Subscription<T>>;
  async subscribe<T = unknown>(
    topic: string,
    group: string,
    handlerOrOptions?: Handler<T> | SubscribeOptions,
    maybeOptions?: SubscribeOptions,
  ): Promise<Subscription<T>> {
    if (typeof topic !== "string" || typeof group !== "string") {
      throw new TypeError("subscribe(topic, group, ...) takes two strings");
    }
    const handler = typeof handlerOrOptions === "function" ? handlerOrOptions : undefined;
    const options = (typeof handlerOrOptions === "function" ? maybeOptions : handlerOrOptions) ?? {};
    if (this.closing !== undefined) throw new ClosedError();
    if (options.signal?.aborted) throw abortReason(options.signal);
    const key = subscriptionKey(topic, group);
    if (this.subscriptions.has(key)) {
      throw new BusError("bad_frame", `already subscribed to ${topic} as ${group}`);
    }
    const subscription = new Subscription<T>(topic, group, this.host(), handler, options);
    this.subscriptions.set(key, subscription as Subscription<unknown>);
    const session = this.session;
    if (session !== undefined && session.open) subscription.attach(session);
    try {
      await subscription.whenReady(options.signal);
    } catch (error) {
      void subscription.unsubscribe().catch(() => undefined);
      throw error;
    }
    return subscription;
  }

  /**
   * Drains and closes: refuses new calls, lets running handlers finish and
   * their acks reach the gateway, waits for pending publishes (up to
   * `timeoutMs`, default 10000), then closes the connection. Publishes still
   * pending then are rejected with `ClosedError`.
   */
  close(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.drain(options.timeoutMs ?? CLOSE_TIMEOUT_MS, options.signal);
    return this.closing;
  }

  // -- internals -----------------------------------------------------------

  /** @internal the first connection. */
  async start(signal?: AbortSignal): Promise<void> {
    this.Ctor = await resolveWebSocket(this.options.WebSocket);
    const deadline = Date.now() + this.settings.connectTimeoutMs;
    let attempt = 0;
    for (;;) {
      attempt++;
      this.setState("connecting", { attempt });
      try {
        await this.openSession(signal, Math.min(this.settings.attemptTimeoutMs, Math.max(1, deadline - Date.now())));
        return;
      } catch (error) {
        if (signal?.aborted || isPermanent(error) || Date.now() >= deadline) {
          const failure =
            Date.now() >= deadline && !isPermanent(error) && !signal?.aborted
              ? new TimeoutError(
                  `could not connect to ${this.url} within ${this.settings.connectTimeoutMs} ms (last error: ${String(error)})`,
                )
              : error;
          this.shutDown(failure);
          throw failure;
        }
        const delay = Math.min(this.retryDelay(attempt, error), Math.max(0, deadline - Date.now()));
        await sleep(delay, signal).catch((abort: unknown) => {
          this.shutDown(abort);
          throw abort;
        });
      }
    }
  }

  private async openSession(signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
    const token = await this.token();
    const session = await Session.open(
      this.Ctor!,
      this.url,
      token,
      {
        onEvent: (frame, from) => this.onEvent(frame, from),
        onPush: (error, from) => this.onPush(error, from),
        onClose: (from, code, reason) => this.onClose(from, code, reason),
      },
      timeoutMs,
      anySignal(signal, this.lifetime.signal),
    );
    if (this.lifetime.signal.aborted) {
      session.close(1000, "client closed");
      throw new ClosedError();
    }
    if (this.opened) this.stats.reconnects++;
    this.opened = true;
    this.session = session;
    this.setState(this.draining() ? "closing" : "open");
    this.scheduleRefresh(token, session);
    for (const subscription of this.subscriptions.values()) subscription.attach(session);
    this.publisher.resume(session);
  }

  private async token(): Promise<string> {
    if (this.options.getToken !== undefined) return this.options.getToken();
    return this.options.token;
  }

  private scheduleRefresh(token: string, session: Session): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (this.options.getToken === undefined) return;
    const expiresAt = jwtExpiresAt(token);
    if (expiresAt === undefined) return;
    const delay = refreshDelay(expiresAt, Date.now(), this.settings.refreshBeforeMs);
    this.refreshTimer = setTimeout(() => void this.refresh(session), delay);
  }

  /** AUTH again on the open connection with a fresh token. */
  private async refresh(session: Session): Promise<void> {
    this.refreshTimer = undefined;
    try {
      const token = await this.token();
      if (this.session !== session || !session.open) return;
      await session.request({ op: "AUTH", token }, this.settings.requestTimeoutMs);
      this.stats.tokenRefreshes++;
      this.scheduleRefresh(token, session);
    } catch (error) {
      if (this.session !== session || !session.open) return;
      this.emitter.emit("error", error);
      session.close(4000, "token refresh failed"); // reconnect asks getToken again
    }
  }

  private onEvent(frame: EventFrame, session: Session): void {
    if (session !== this.session) return;
    this.subscriptions.get(subscriptionKey(frame.topic, frame.group))?.deliver(frame, session);
  }

  private onPush(error: BusError, session: Session): void {
    if (session !== this.session) return;
    if (error.code === "token_expired") {
      this.reauthenticate(session);
      return;
    }
    this.emitter.emit("error", error);
  }

  /** The gateway no longer accepts this session's token: reconnect with a fresh one (a fixed token cannot be refreshed). */
  private reauthenticate(session: Session): void {
    if (session !== this.session) return;
    if (this.options.getToken === undefined) {
      const error = new BusError("token_expired", "the token expired and no getToken was given to refresh it");
      this.emitter.emit("error", error);
      this.shutDown(error);
      return;
    }
    session.close(4000, "token expired");
  }

  private onClose(session: Session, code: number, reason: string): void {
    if (session !== this.session) return;
    this.session = undefined;
    clearTimeout(this.refreshTimer);
    // While close() drains, reconnecting lets pending publishes through.
    if (this.lifetime.signal.aborted || this.currentState === "closed") return;
    const error = new BusError("connection_lost", `connection closed (${code}${reason ? ` ${reason}` : ""})`);
    if (code === CLOSE_UNAUTHORIZED && this.options.getToken === undefined) {
      this.shutDown(new BusError("unauthorized", "the gateway refused the token"));
      return;
    }
    void this.reconnect(error);
  }

  private async reconnect(cause: unknown): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let attempt = 0;
    let error = cause;
    try {
      while (!this.lifetime.signal.aborted) {
        attempt++;
        this.setState(this.draining() ? "closing" : "connecting", { attempt, error });
        try {
          await sleep(this.retryDelay(attempt, error), this.lifetime.signal);
          await this.openSession(undefined, this.settings.attemptTimeoutMs);
          return;
        } catch (failure) {
          if (this.lifetime.signal.aborted) return;
          if (isPermanent(failure) && this.options.getToken === undefined) {
            this.shutDown(failure);
            return;
          }
          error = failure;
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  /** close() was called and is still waiting for handlers and publishes. */
  private draining(): boolean {
    return this.closing !== undefined && !this.lifetime.signal.aborted;
  }

  private retryDelay(attempt: number, error: unknown): number {
    const delay = backoffDelay(attempt, this.backoff);
    const after = error instanceof BusError ? error.retryAfterMs : undefined;
    return Math.max(delay, after ?? 0);
  }

  private async drain(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.currentState === "closed") return;
    this.setState("closing");
    this.publisher.stopAccepting();
    const work = (async () => {
      await Promise.allSettled([...this.subscriptions.values()].map((sub) => sub.unsubscribe()));
      await this.publisher.drained();
    })();
    const timer = new AbortController();
    try {
      await Promise.race([work, sleep(timeoutMs, anySignal(signal, timer.signal)).catch((error: unknown) => {
        if (!timer.signal.aborted) throw error;
      })]);
    } finally {
      timer.abort();
      this.shutDown(undefined);
    }
  }

  /** Stops for good: no reconnect, everything pending fails with `ClosedError`. */
  private shutDown(error: unknown): void {
    if (this.currentState === "closed") return;
    this.closing ??= Promise.resolve();
    this.lifetime.abort();
    clearTimeout(this.refreshTimer);
    const session = this.session;
    this.session = undefined;
    session?.close(1000, "client closed");
    const closed = new ClosedError(error instanceof Error ? `the client is closed: ${error.message}` : undefined);
    this.publisher.stopAccepting();
    this.publisher.failAll(closed);
    for (const subscription of [...this.subscriptions.values()]) subscription.fail(closed);
    this.setState("closed", error === undefined ? {} : { error });
  }

  private setState(state: ConnectionState, extra: { error?: unknown; attempt?: number } = {}): void {
    const previous = this.currentState;
    if (previous === state && extra.attempt === undefined) return;
    this.currentState = state;
    this.emitter.emit("state", { state, previous, ...extra });
  }

  private host() {
    const client = this;
    return {
      current: (): Session | undefined => client.session,
      reauthenticate: (session: Session): void => client.reauthenticate(session),
      forget: (subscription: Subscription<unknown>): void => {
        const key = subscriptionKey(subscription.topic, subscription.group);
        if (client.subscriptions.get(key) === subscription) client.subscriptions.delete(key);
      },
      reportError: (error: unknown): void => client.emitter.emit("error", error),
      get requestTimeoutMs(): number {
        return client.settings.requestTimeoutMs;
      },
      stats: client.stats,
    };
  }
}

function subscriptionKey(topic: string, group: string): string {
  return `${topic}\u0000${group}`;
}

/** Failures that retrying cannot fix: a refused token, a closed client, a malformed URL, an abort. */
function isPermanent(error: unknown): boolean {
  if (error instanceof BusError) {
    return error.code === "unauthorized" || error.code === "token_expired" || error.code === "closed";
  }
  return error instanceof SyntaxError || (error instanceof Error && error.name === "AbortError");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a === undefined ? b : AbortSignal.any([a, b]);
}
