/**
 * The one "poll until a deadline" of the tests: no fixed sleeps, no waiting without a bound.
 * @module
 */

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, describe: string | (() => string) = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof describe === 'function' ? describe() : describe}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
