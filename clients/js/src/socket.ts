/**
 * The WebSocket the client uses: the platform's own (browsers, Node.js >= 22,
 * Deno, Bun), else the optional `ws` package on Node.js 20, else one passed in
 * `ConnectOptions.WebSocket`.
 */

import { BusError } from "./errors.js";

/** The part of the WHATWG WebSocket the client needs; `ws`'s WebSocket has it too. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** Set to "arraybuffer": a browser would hand binary frames over as Blobs, which cannot be read synchronously. */
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `ws`'s constructor, which also takes options. */
type WsConstructor = new (url: string, options: { perMessageDeflate: boolean }) => WebSocketLike;

export const OPEN = 1;

let fromPackage: Promise<WebSocketConstructor> | undefined;

/** The WebSocket constructor to use (imports `ws` once, only where there is no global one). */
export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  fromPackage ??= importWs();
  return fromPackage;
}

async function importWs(): Promise<WebSocketConstructor> {
  // A variable specifier keeps bundlers from pulling `ws` into browser builds.
  const specifier = "ws";
  try {
    const module = (await import(specifier)) as { WebSocket?: unknown; default?: unknown };
    const ctor = (module.WebSocket ?? module.default) as WsConstructor | undefined;
    if (ctor === undefined) throw new Error("the ws module has no WebSocket export");
    // ws offers permessage-deflate by default; compressing every small JSON
    // frame costs far more CPU (and latency) than it saves on the wire.
    return class extends ctor {
      constructor(url: string) {
        super(url, { perMessageDeflate: false });
      }
    };
  } catch (err) {
    fromPackage = undefined;
    throw new BusError(
      "closed",
      `no global WebSocket here and the optional peer dependency "ws" could not be loaded (npm install ws): ${String(err)}`,
    );
  }
}

const decoder = new TextDecoder();

/** A message's data as text (`ws` may hand over a Buffer). */
export function messageText(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  if (Array.isArray(data)) return data.map(messageText).join("");
  return String(data);
}
