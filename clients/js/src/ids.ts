/** Random event ids: 128 random bits, hex, prefixed with the time so ids sort roughly by creation. */

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const ID_BYTES = 16;
/** Random bytes for 256 ids, drawn at once: one `getRandomValues` call per id costs more than the id. */
const pool = new Uint8Array(ID_BYTES * 256);
let used = pool.length;

/** A new random event id (works in browsers outside secure contexts too). */
export function randomId(): string {
  if (used === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    used = 0;
  }
  let hex = "";
  for (let i = used; i < used + ID_BYTES; i++) hex += HEX[pool[i]!];
  used += ID_BYTES;
  return `${Date.now().toString(36)}-${hex}`;
}
