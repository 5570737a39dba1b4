/**
 * The arithmetic of `ten rollout`: how many instances each cohort moves, and the checks on the
 * cohorts and interval asked for (docs/cli.md, "ten rollout").
 * @module
 */
import { TenementError } from '../core/errors.js';

export const DEFAULT_COHORTS: readonly number[] = Object.freeze([1, 10, 50, 100]);
export const DEFAULT_INTERVAL_MS = 30_000;
/** Bounds of `--interval`: below a second nothing is judged; above a day is a mistake. */
export const MIN_INTERVAL_MS = 1_000;
export const MAX_INTERVAL_MS = 86_400_000;

/** Cumulative percentages, strictly increasing, each 1–100, the last one 100; else `bad_request`. */
export function checkCohorts(cohorts: readonly number[]): void {
  const bad = (why: string): TenementError => new TenementError('bad_request', `invalid cohorts ${cohorts.join(',')}: ${why}`, {
    hint: 'give increasing percentages of the running instances that end at 100, e.g. --cohorts 1,10,50,100',
  });
  if (cohorts.length === 0 || cohorts.length > 100) throw bad('give 1 to 100 of them');
  if (cohorts.some((c) => !Number.isInteger(c) || c < 1 || c > 100)) throw bad('each is a whole percentage from 1 to 100');
  if (cohorts.some((c, i) => i > 0 && c <= cohorts[i - 1]!)) throw bad('each must be above the one before');
  if (cohorts.at(-1) !== 100) throw bad('the last one must be 100, so that every instance is moved');
}

export function checkIntervalMs(ms: number): void {
  if (!Number.isFinite(ms) || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    throw new TenementError('bad_request', `invalid interval ${ms / 1000} s: use 1 s to 1 day`, { hint: 'e.g. --interval 30s' });
  }
}

/**
 * How many instances have moved once each cohort is done: its percentage of `total`, rounded up,
 * and at least one more than the cohort before while any are left (1,10,50,100 over 20 → 1,2,10,20).
 */
export function cohortTargets(cohorts: readonly number[], total: number): number[] {
  const targets: number[] = [];
  let before = 0;
  for (const percent of cohorts) {
    const target = Math.min(total, Math.max(Math.ceil((total * percent) / 100), before + 1));
    targets.push(target);
    before = target;
  }
  return targets;
}
