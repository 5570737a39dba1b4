import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCohorts, checkIntervalMs, cohortTargets } from './rollout-plan.js';

test('cohorts are cumulative percentages rounded up, at least one more instance each while any are left', () => {
  assert.deepEqual(cohortTargets([1, 10, 50, 100], 20), [1, 2, 10, 20]);
  assert.deepEqual(cohortTargets([1, 10, 50, 100], 300), [3, 30, 150, 300]);
  assert.deepEqual(cohortTargets([1, 10, 50, 100], 3), [1, 2, 3, 3]);
  assert.deepEqual(cohortTargets([1, 10, 50, 100], 1), [1, 1, 1, 1]);
  assert.deepEqual(cohortTargets([100], 7), [7]);
});

test('cohorts must rise from 1 to 100 and end at 100; the interval is 1 s to 1 day', () => {
  assert.doesNotThrow(() => checkCohorts([1, 10, 50, 100]));
  assert.doesNotThrow(() => checkCohorts([100]));
  for (const [bad, why] of [
    [[], /give 1 to 100 of them/], [[10, 5, 100], /above the one before/], [[10, 10, 100], /above the one before/],
    [[0, 100], /from 1 to 100/], [[50, 101], /from 1 to 100/], [[1.5, 100], /whole percentage/], [[1, 50], /last one must be 100/],
  ] as const) {
    assert.throws(() => checkCohorts(bad), (err: Error & { code?: string }) => err.code === 'bad_request' && why.test(err.message));
  }
  assert.doesNotThrow(() => checkIntervalMs(1000));
  for (const bad of [999, 0, -1, Number.NaN, 86_400_001]) assert.throws(() => checkIntervalMs(bad), /use 1 s to 1 day/);
});
