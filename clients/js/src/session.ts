/**
 * One WebSocket connection to the gateway, authenticated: requests matched to
 * their replies by `corr`, events handed to a callback. A new Session is made
 * for every (re)connect; the client keeps everything that outlives one.
 */

import { BusError, ConnectionLostError, TimeoutError, abortReason, fromErrFrame } from "./errors.js";
import { type ClientFrame, type EventFrame, type OkFrame, decodeServerFrame, encodeClientFrame } from "./frames.js";
import { OPEN, type WebSocketConstructor, type WebSocketLike, messageText } from "./socket.js";

export interface SessionHandlers {
  onEvent(frame: EventFrame, session: Session): void;
  /** An `ERR` without a `corr` (for example `token_expired`). */
  onPush(error: BusError, session: Session): void;
  onClose(session: Session, code: number, reason: string): void;
}

interface Waiter {
  resolve(frame: OkFrame): void;
  reject(error: unknown): void;
}

let sessionIds = 0;

export class Session {
  readonly id = ++sessionIds;
  private readonly waiting = new Map<string, Waiter>();
  private nextCorr = 0;
  private closed = false;
  /** `too_many_connections` pushed before the gateway closed: why the waiters fail, with its retry_after_ms. */
  private refusal: BusError | undefined;
  private closeCode = 0;

  private constructor(
    private readonly socket: WebSocketLike,
    private readonly handlers: SessionHandlers,
  ) {}

  /** Opens a WebSocket and sends `AUTH`; resolves once the gateway answered `OK`. */
  static async open(
    Ctor: WebSocketConstructor,
    url: string,
    token: string,
    handlers: SessionHandlers,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Session> {
    const socket = new Ctor(url);
    socket.binaryType = "arraybuffer"; // the gateway sends its connection-limit refusal as a binary frame
    const session = new Session(socket, handlers);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown): void => {
        cleanup();
        socket.onopen = socket.onerror = null;
        try {
          socket.close();
        } catch {
          // closing a socket that never opened
        }
        reject(error);
      };
      const timer = setTimeout(() => fail(new TimeoutError(`no connection to ${url} within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => fail(abortReason(signal!));
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.onerror = () => undefined;
      socket.onclose = (event) => fail(new ConnectionLostError(`connection to ${url} closed (${event.code})`));
      socket.onopen = () => {
        cleanup();
        session.attach();
        resolve();
      };
    });
    try {
      await session.request({ op: "AUTH", token }, timeoutMs, signal);
    } catch (err) {
      session.close(1000, "auth failed");
      throw err;
    }
    return session;
  }

  private attach(): void {
    this.socket.onmessage = (event) => this.receive(messageText(event.data));
    this.socket.onerror = () => undefined;
    this.socket.onclose = (event) => this.closedBy(event.code, event.reason);
  }

  get open(): boolean {
    return !this.closed && this.socket.readyState === OPEN;
  }

  /** Bytes queued in the socket, not yet sent. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Sends a frame that expects no reply. False when the connection is gone. */
  send(frame: ClientFrame): boolean {
    if (!this.open) return false;
    this.socket.send(encodeClientFrame(frame));
    return true;
  }

  /** Sends a frame with a fresh `corr` and resolves with its `OK` (rejects with its `ERR`). */
  request(frame: ClientFrame, timeoutMs: number, signal?: AbortSignal): Promise<OkFrame> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.open) return Promise.reject(new ConnectionLostError());
    const corr = `c${++this.nextCorr}`;
    let text: string;
    try {
      text = encodeClientFrame({ ...frame, corr });
    } catch (error) {
      return Promise.reject(error); // a payload JSON cannot carry (a BigInt, a cycle)
    }
    return new Promise<OkFrame>((resolve, reject) => {
      const done = (): void => {
        this.waiting.delete(corr);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = (): void => {
        done();
        reject(abortReason(signal!));
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              done();
              reject(new TimeoutError(`no answer to ${frame.op} within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(corr, {
        resolve: (reply) => {
          done();
          resolve(reply);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.socket.send(text);
    });
  }

  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    try {
      this.socket.close(code, reason);
    } catch {
      // already closing
    }
    this.closedBy(code, reason);
  }

  private closedBy(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    this.socket.onmessage = null;
    this.socket.onclose = null;
    const lost =
      this.refusal ?? new ConnectionLostError(`the connection to the gateway closed (${code}${reason ? ` ${reason}` : ""})`);
    for (const waiter of [...this.waiting.values()]) waiter.reject(lost);
    this.waiting.clear();
    this.handlers.onClose(this, code, reason);
  }

  /** The close code once closed (0 before). */
  get closedWith(): number {
    return this.closeCode;
  }

  private receive(text: string): void {
    let frame;
    try {
      frame = decodeServerFrame(text);
    } catch (err) {
      this.handlers.onPush(err as BusError, this);
      return;
    }
    if (frame.op === "EVENT") {
      this.handlers.onEvent(frame, this);
      return;
    }
    const corr = frame.corr == null ? undefined : String(frame.corr);
    const waiter = corr === undefined ? undefined : this.waiting.get(corr);
    if (frame.op === "OK") {
      waiter?.resolve(frame);
      return;
    }
    const error = fromErrFrame(frame.code, frame.msg, frame.retry_after_ms);
    if (waiter !== undefined) waiter.reject(error);
    else if (error.code === "too_many_connections") this.refusal = error;
    else this.handlers.onPush(error, this);
  }
}
