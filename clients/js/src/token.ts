/** Where the client's JWT comes from, and when to fetch a fresh one. */

/** A fixed token, or a function called on every (re)connect and before the token expires. */
export type TokenSource =
  | { token: string; getToken?: never }
  | { getToken: () => string | Promise<string>; token?: never };

/** The `exp` claim of a JWT, in epoch ms; undefined when the token is not a JWT with `exp`. */
export function jwtExpiresAt(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const claims: unknown = JSON.parse(atob(padded));
    if (typeof claims === "object" && claims !== null && "exp" in claims) {
      const exp = (claims as { exp: unknown }).exp;
      if (typeof exp === "number" && Number.isFinite(exp)) return exp * 1000;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * How long to wait before refreshing a token that expires at `expiresAt`:
 * `refreshBeforeMs` before it expires, but at least halfway through its
 * remaining life (never negative).
 */
export function refreshDelay(expiresAt: number, now: number, refreshBeforeMs: number): number {
  const remaining = expiresAt - now;
  return Math.max(0, Math.max(remaining - refreshBeforeMs, remaining / 2));
}
