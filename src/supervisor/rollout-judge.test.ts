// The rule that fails a rollout cohort or a canary step, fed with real proxy counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceRequestStats } from '../core/request-stats.js';
import { judgeStep, p95Of, since, snapshotOf, sumSnapshots } from './rollout-judge.js';

const thresholds = { maxErrorRate: 0.05, maxP95Ratio: 2, minRequests: 20 };
const healthy = { unhealthy: [] };

function served(count: number, status: number, seconds: number, stats = new InstanceRequestStats('api', 'v1')): InstanceRequestStats {
  for (let i = 0; i < count; i++) stats.record(status, seconds);
  return stats;
}

test('a version answering 500 on 20 % of requests fails against a clean one', () => {
  const moved = served(20, 500, 0.002, served(80, 200, 0.002));
  const verdict = judgeStep(snapshotOf(moved, 0), snapshotOf(served(100, 200, 0.002), 0), healthy, thresholds);
  assert.equal(verdict.ok, false);
  assert.match(verdict.ok ? '' : verdict.reason, /error rate 20\.0 %/);
});

test('errors the others have too are not held against the moved instances', () => {
  const moved = served(10, 500, 0.002, served(90, 200, 0.002));
  const others = served(8, 503, 0.002, served(92, 200, 0.002));
  assert.equal(judgeStep(snapshotOf(moved, 0), snapshotOf(others, 0), healthy, thresholds).ok, true);
});

test('fewer requests than min_requests: error rate is not judged, restarts and health are', () => {
  const moved = snapshotOf(served(5, 500, 0.002), 0);
  assert.equal(judgeStep(moved, snapshotOf(undefined, 0), healthy, thresholds).ok, true);
  assert.equal(judgeStep(snapshotOf(undefined, 1), snapshotOf(undefined, 0), healthy, thresholds).ok, false);
  const sick = judgeStep(moved, snapshotOf(undefined, 0), { unhealthy: ['api:v2'] }, thresholds);
  assert.deepEqual(sick, { ok: false, reason: 'health check failing: api:v2' });
});

test('a p95 over max_p95_ratio times the others fails; jitter under 5 ms does not', () => {
  const slow = judgeStep(snapshotOf(served(100, 200, 0.2), 0), snapshotOf(served(100, 200, 0.02), 0), healthy, thresholds);
  assert.equal(slow.ok, false);
  const jitter = judgeStep(snapshotOf(served(100, 200, 0.004), 0), snapshotOf(served(100, 200, 0.0008), 0), healthy, thresholds);
  assert.equal(jitter.ok, true);
  const coldStart = judgeStep(snapshotOf(served(2, 200, 0.2, served(48, 200, 0.002)), 0), snapshotOf(served(100, 200, 0.002), 0), healthy, thresholds);
  assert.equal(coldStart.ok, true, 'two slow first requests of 50 decide nothing');
});

test('a step is judged on what happened during it, summed over its instances', () => {
  const a = served(50, 500, 0.002);
  const before = snapshotOf(a, 0);
  served(30, 200, 0.002, a);
  const b = served(30, 200, 0.002, new InstanceRequestStats('api', 'b'));
  const step = since(sumSnapshots([snapshotOf(a, 0), snapshotOf(b, 0)]), before);
  assert.equal(step.requests, 60);
  assert.equal(step.errors, 0);
  assert.ok(p95Of(step) > 0.001 && p95Of(step) <= 0.0025);
});
