/**
 * The verdict on one step of a change under traffic — a cohort of `ten rollout`, a weight step of
 * `ten deploy --canary`: the moved instances against the ones not moved, on the proxy's own
 * counters over the step, by the thresholds of `[service.X.rollout]` (docs/configuration.md).
 * Pure functions over snapshots, so both engines and their tests share one rule.
 * @module
 */
import type { ServiceConfig } from '../config/types.js';
import type { Health } from '../core/lifecycle.js';
import { DURATION_BUCKETS_S, type InstanceRequestStats } from '../core/request-stats.js';

export type RolloutThresholds = ServiceConfig['rollout'];

/** Latencies below this count as this, so jitter on a fast app never fails a step. */
const LATENCY_FLOOR_S = 0.005;
/** Requests each side needs before p95 counts: with fewer, one cold first request decides it. */
const P95_MIN_SAMPLE = 100;

/** Counters of one instance, or a group summed, at one moment (or a difference of two moments). */
export interface CounterSnapshot {
  readonly requests: number;
  /** 5xx answers: the app's own, and the proxy's 502/503/504 (timeouts) for it. */
  readonly errors: number;
  /** Requests per DURATION_BUCKETS_S bucket (+Inf last), all status classes together. */
  readonly buckets: readonly number[];
  /** Process restarts (crashes, failed health) counted by the supervisor. */
  readonly restarts: number;
}

export const EMPTY_SNAPSHOT: CounterSnapshot = Object.freeze({
  requests: 0, errors: 0, buckets: Object.freeze(new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0)), restarts: 0,
});

/** One instance now; `stats` undefined before its first request. */
export function snapshotOf(stats: InstanceRequestStats | undefined, restarts: number): CounterSnapshot {
  if (stats === undefined) return { ...EMPTY_SNAPSHOT, restarts };
  const buckets = new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0);
  for (const classBuckets of stats.bucketsByClass) classBuckets.forEach((n, i) => { buckets[i]! += n; });
  return { requests: stats.total, errors: stats.countByClass[4]!, buckets, restarts };
}

export function sumSnapshots(snapshots: Iterable<CounterSnapshot>): CounterSnapshot {
  let sum = EMPTY_SNAPSHOT;
  for (const s of snapshots) {
    sum = {
      requests: sum.requests + s.requests,
      errors: sum.errors + s.errors,
      buckets: sum.buckets.map((n, i) => n + s.buckets[i]!),
      restarts: sum.restarts + s.restarts,
    };
  }
  return sum;
}

/** What happened between two snapshots of the same instances (counters never go down). */
export function since(now: CounterSnapshot, before: CounterSnapshot): CounterSnapshot {
  return {
    requests: Math.max(0, now.requests - before.requests),
    errors: Math.max(0, now.errors - before.errors),
    buckets: now.buckets.map((n, i) => Math.max(0, n - before.buckets[i]!)),
    restarts: Math.max(0, now.restarts - before.restarts),
  };
}

/** p95 in seconds, interpolated inside its bucket like Prometheus' histogram_quantile; 0 without requests. */
export function p95Of(s: CounterSnapshot): number {
  const total = s.buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const target = 0.95 * total;
  let seen = 0;
  for (let i = 0; i < s.buckets.length; i++) {
    const inBucket = s.buckets[i]!;
    if (seen + inBucket >= target && inBucket > 0) {
      const lower = i === 0 ? 0 : DURATION_BUCKETS_S[i - 1]!;
      const upper = DURATION_BUCKETS_S[i] ?? lower;
      return lower + (upper - lower) * ((target - seen) / inBucket);
    }
    seen += inBucket;
  }
  return DURATION_BUCKETS_S[DURATION_BUCKETS_S.length - 1]!;
}

/**
 * Health that fails a step at once. Not `degraded` (1–2 failed checks): it recovers, or turns
 * unhealthy and is restarted, and restarts count.
 */
const FAILING_HEALTH: ReadonlySet<Health> = new Set<Health>(['unhealthy', 'failed']);

export function failsStep(health: Health): boolean {
  return FAILING_HEALTH.has(health);
}

export interface StepHealth {
  /** Moved instances whose health check fails now, or that are failed. */
  readonly unhealthy: readonly string[];
}

export type Verdict =
  | { readonly ok: true; readonly summary: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The step passes unless a moved instance restarted or is unhealthy, or — once the moved ones have
 * `minRequests` requests — their 5xx share exceeds the others' by more than `maxErrorRate`, or
 * their p95 exceeds `maxP95Ratio` times the others' (both sides need `minRequests` and 100).
 */
export function judgeStep(moved: CounterSnapshot, others: CounterSnapshot, health: StepHealth, t: RolloutThresholds): Verdict {
  if (moved.restarts > 0) return { ok: false, reason: `${moved.restarts} restart${moved.restarts === 1 ? '' : 's'} of moved instances` };
  if (health.unhealthy.length > 0) return { ok: false, reason: `health check failing: ${health.unhealthy.slice(0, 3).join(', ')}${health.unhealthy.length > 3 ? ` and ${health.unhealthy.length - 3} more` : ''}` };
  if (moved.requests < t.minRequests) {
    return { ok: true, summary: `${moved.requests} requests (fewer than min_requests ${t.minRequests}: judged on restarts and health only)` };
  }
  const movedRate = moved.errors / moved.requests;
  const othersRate = others.requests >= t.minRequests && others.requests > 0 ? others.errors / others.requests : 0;
  if (movedRate - othersRate > t.maxErrorRate) {
    return { ok: false, reason: `error rate ${percent(movedRate)} (${moved.errors} of ${moved.requests}) against ${percent(othersRate)} for the others; max_error_rate is ${percent(t.maxErrorRate)}` };
  }
  const movedP95 = Math.max(p95Of(moved), LATENCY_FLOOR_S);
  if (moved.requests >= Math.max(t.minRequests, P95_MIN_SAMPLE) && others.requests >= Math.max(t.minRequests, P95_MIN_SAMPLE)) {
    const othersP95 = Math.max(p95Of(others), LATENCY_FLOOR_S);
    if (movedP95 / othersP95 > t.maxP95Ratio) {
      return { ok: false, reason: `p95 ${ms(movedP95)} against ${ms(othersP95)} for the others (${(movedP95 / othersP95).toFixed(1)}×; max_p95_ratio is ${t.maxP95Ratio})` };
    }
  }
  return { ok: true, summary: `${moved.requests} requests, error rate ${percent(movedRate)}, p95 ${ms(movedP95)}` };
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)} %`;
const ms = (seconds: number): string => `${(seconds * 1000).toFixed(1)} ms`;
