/**
 * Restart arithmetic (docs/lifecycle.md), pure: exponential backoff and the restart window.
 * @module
 */

/** Delay before restart number `attempt` (0-based): base * 2^attempt, capped at max. */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  if (attempt >= 52) return maxMs;
  return Math.min(maxMs, baseMs * 2 ** attempt);
}

/** How many of `times` fall within the window ending at `now` (and not before `since`). */
export function countRecent(times: readonly number[], now: number, windowMs: number, since = 0): number {
  const from = Math.max(now - windowMs, since);
  let n = 0;
  for (const t of times) if (t > from) n++;
  return n;
}
