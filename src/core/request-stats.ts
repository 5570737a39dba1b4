/**
 * Per-instance request counters kept in memory by the proxy and read by /metrics and
 * /api/telemetry at scrape time. `record` is on the hot path: no allocation after an instance's
 * first request, no I/O, no label lookup.
 * @module
 */
import { formatInstanceName } from './names.js';

/** Histogram upper bounds in seconds (Prometheus `le`), shared by metrics and telemetry. */
export const DURATION_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export class InstanceRequestStats {
  readonly service: string;
  readonly id: string;
  /** Requests by status class, indexed 0..4 for 1xx..5xx. */
  readonly countByClass = new Float64Array(5);
  /** Per status class: cumulative-free bucket counts, DURATION_BUCKETS_S.length + 1 (+Inf) each. */
  readonly bucketsByClass: Float64Array[] = STATUS_CLASSES.map(() => new Float64Array(DURATION_BUCKETS_S.length + 1));
  readonly sumByClass = new Float64Array(5);

  constructor(service: string, id: string) {
    this.service = service;
    this.id = id;
  }

  record(status: number, durationS: number): void {
    let c = ((status / 100) | 0) - 1;
    if (c < 0 || c > 4) c = 4;
    this.countByClass[c]! += 1;
    this.sumByClass[c]! += durationS;
    const buckets = this.bucketsByClass[c]!;
    let i = 0;
    while (i < DURATION_BUCKETS_S.length && durationS > DURATION_BUCKETS_S[i]!) i++;
    buckets[i]! += 1;
  }

  get total(): number {
    let n = 0;
    for (const v of this.countByClass) n += v;
    return n;
  }

  /** Mean latency in seconds over all requests (0 without requests). */
  get meanS(): number {
    const total = this.total;
    if (total === 0) return 0;
    let sum = 0;
    for (const v of this.sumByClass) sum += v;
    return sum / total;
  }

  /** Approximate quantile (upper bound of the bucket that holds it), in seconds. */
  quantileS(q: number): number {
    const total = this.total;
    if (total === 0) return 0;
    const target = q * total;
    let seen = 0;
    for (let i = 0; i <= DURATION_BUCKETS_S.length; i++) {
      for (const b of this.bucketsByClass) seen += b[i]!;
      if (seen >= target) return DURATION_BUCKETS_S[i] ?? Number.POSITIVE_INFINITY;
    }
    return Number.POSITIVE_INFINITY;
  }
}

export { STATUS_CLASSES };

export class RequestStats {
  private readonly byInstance = new Map<string, InstanceRequestStats>();

  /** The stats object for one instance; the proxy may cache it on its route entry. */
  for(service: string, id: string): InstanceRequestStats {
    const key = formatInstanceName(service, id);
    let s = this.byInstance.get(key);
    if (s === undefined) {
      s = new InstanceRequestStats(service, id);
      this.byInstance.set(key, s);
    }
    return s;
  }

  /** Drops a removed instance so its series disappear. */
  delete(service: string, id: string): void {
    this.byInstance.delete(formatInstanceName(service, id));
  }

  all(): IterableIterator<InstanceRequestStats> {
    return this.byInstance.values();
  }
}
