/**
 * The per-instance summary behind `GET /api/telemetry`: requests, mean and p95 latency, health,
 * restarts, uptime, and the resources last sampled (memory, CPU, storage).
 * @module
 */
import type { RequestStats, InstanceRequestStats } from '../core/request-stats.js';
import type { ResourceSampler } from './resource-sampler.js';
import type { InstanceInfo, SupervisorApi } from '../supervisor/types.js';
import type { Health, InstanceState } from '../core/lifecycle.js';
import { formatInstanceName } from '../core/names.js';

/** One instance of `GET /api/telemetry`. Latencies in ms over every proxied request so far. */
export interface TelemetryEntry {
  instance: string;
  service: string;
  id: string;
  state: InstanceState;
  health: Health;
  requests: number;
  errors_5xx: number;
  /** null without requests. */
  mean_latency_ms: number | null;
  /** Upper bound of the histogram bucket holding the 95th percentile; null without requests. */
  p95_latency_ms: number | null;
  restarts: number;
  uptime_s: number | null;
  /** Last background sample; null without a process. */
  memory_bytes: number | null;
  cpu_seconds: number | null;
  /** Bytes in its data dir at the last walk (every minute); null before the first. */
  storage_bytes: number | null;
}

export interface TelemetrySources {
  readonly supervisor: Pick<SupervisorApi, 'list'>;
  readonly stats: RequestStats;
  readonly resources?: Pick<ResourceSampler, 'usage'>;
}

/** One entry per registered instance that `include` accepts (all by default). */
export function collectTelemetry(sources: TelemetrySources, include: (info: InstanceInfo) => boolean = () => true): TelemetryEntry[] {
  const statsByInstance = new Map<string, InstanceRequestStats>();
  for (const s of sources.stats.all()) statsByInstance.set(formatInstanceName(s.service, s.id), s);
  return sources.supervisor.list().filter(include).map((info) => {
    const stats = statsByInstance.get(info.instance);
    const usage = sources.resources?.usage(info.instance);
    const requests = stats?.total ?? 0;
    return {
      instance: info.instance,
      service: info.service,
      id: info.id,
      state: info.state,
      health: info.health,
      requests,
      errors_5xx: stats?.countByClass[4] ?? 0,
      mean_latency_ms: stats === undefined || requests === 0 ? null : toMs(stats.meanS),
      // The p95 is the upper bound of the histogram bucket that holds it; past the last bucket it is unknown.
      p95_latency_ms: stats === undefined || requests === 0 ? null : toMs(stats.quantileS(0.95)),
      restarts: info.restarts,
      uptime_s: info.uptime_s,
      memory_bytes: usage === undefined || usage.pid === null ? null : usage.memoryBytes,
      cpu_seconds: usage === undefined || usage.pid === null ? null : Math.round(usage.cpuSeconds * 100) / 100,
      storage_bytes: usage?.storageBytes ?? null,
    };
  });
}

function toMs(seconds: number): number | null {
  return Number.isFinite(seconds) ? Math.round(seconds * 10_000) / 10 : null;
}
