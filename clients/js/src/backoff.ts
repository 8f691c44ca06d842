/** Reconnect delays: exponential with jitter, so many clients do not reconnect in step. */

export interface BackoffOptions {
  /** First delay, in ms (default 100). */
  initialMs?: number;
  /** Largest delay, in ms (default 5000). */
  maxMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 100, maxMs: 5_000 };

/**
 * The delay before reconnect attempt `attempt` (1-based): uniformly random in
 * [cap/2, cap] where cap = min(max, initial * 2^(attempt-1)).
 */
export function backoffDelay(
  attempt: number,
  options: Required<BackoffOptions>,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const cap = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.round(cap / 2 + random() * (cap / 2));
}
