/** Random event ids: 128 random bits, hex, prefixed with the time so ids sort roughly by creation. */

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A new random event id (works in browsers outside secure contexts too). */
export function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let hex = "";
  for (const byte of bytes) hex += HEX[byte];
  return `${Date.now().toString(36)}-${hex}`;
}
