/**
 * Every Prometheus metric tenement exports, in its own prom-client Registry. Request counts and
 * durations, resource use and log counters are read at scrape time from the in-memory sources
 * (RequestStats, ResourceSampler, LogCapture), so nothing on the proxy's path calls prom-client.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { CanaryStatus, EventBus, LifecycleEvent, RolloutEvent, RolloutState, StateChangeEvent } from '../core/events.js';
import { DURATION_BUCKETS_S, STATUS_CLASSES, type RequestStats } from '../core/request-stats.js';
import type { InstanceUsage, ResourceSampler } from './resource-sampler.js';
import { INSTANCE_STATES } from '../core/lifecycle.js';
import type { SupervisorApi } from '../supervisor/types.js';

export interface MetricsSources {
  readonly supervisor: Pick<SupervisorApi, 'list' | 'config' | 'instancesOf'>;
  readonly events: EventBus;
  readonly stats: RequestStats;
  /** Per-instance memory and CPU (the ResourceSampler). */
  readonly resources?: Pick<ResourceSampler, 'all'>;
  /** The LogCapture (its stored/dropped counters). */
  readonly logLines?: { readonly stored: number; readonly dropped: number };
  /** Open proxied connections; default: the sum of every instance's open connections. */
  readonly openConnections?: () => number;
}

const ROLLOUT_STATES: readonly RolloutState[] = ['running', 'paused', 'succeeded', 'rolled_back', 'aborted'];
const WAKE_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const THAW_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1];

interface SampleValue {
  readonly metricName?: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/**
 * A metric whose samples are computed at scrape time from a plain source. prom-client renders any
 * registered object with name/help/type/get(); its own Histogram cannot be loaded with buckets.
 */
function scrapeTimeMetric(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', collect: () => SampleValue[]): void {
  const metric = { name, help, type, aggregator: 'sum', get: () => ({ name, help, type, aggregator: 'sum', values: collect() }) };
  registry.registerMetric(metric as unknown as Metric);
}

export class Metrics {
  readonly registry = new Registry();
  private readonly sources: MetricsSources;
  private readonly wakes: Counter<'service' | 'instance'>;
  private readonly wakeDuration: Histogram<'service'>;
  private readonly restarts: Counter<'service' | 'instance'>;
  private readonly oomKills: Counter<'service' | 'instance'>;
  private readonly freezes: Counter<'service' | 'instance'>;
  private readonly thaws: Counter<'service' | 'instance'>;
  private readonly thawDuration: Histogram<'service'>;
  private readonly resources: Pick<ResourceSampler, 'all'> | undefined;
  private readonly canaries: Counter<'service' | 'result'>;
  private readonly rolloutState: Gauge<'service' | 'state'>;
  private readonly rolloutSteps: Counter<'service' | 'result'>;
  private readonly rollbacks: Counter<'service'>;

  private readonly onRollout = (e: RolloutEvent): void => {
    for (const state of ROLLOUT_STATES) this.rolloutState.set({ service: e.service, state }, state === e.state ? 1 : 0);
    if (e.step === 'pass') this.rolloutSteps.inc({ service: e.service, result: 'passed' });
    else if (e.step === 'breach') this.rolloutSteps.inc({ service: e.service, result: 'failed' });
    else if (e.step === 'rollback') this.rollbacks.inc({ service: e.service });
  };

  private readonly onLifecycle = (e: LifecycleEvent): void => {
    if (e.kind === 'restart') this.restarts.inc({ service: e.service, instance: e.id });
    else if (e.kind === 'oom') this.oomKills.inc({ service: e.service, instance: e.id });
    else if (e.kind === 'ready' && e.cause === 'wake' && e.durationMs !== undefined) this.observeWake(e.service, e.id, e.durationMs / 1_000);
    else if (e.kind === 'freeze') this.freezes.inc({ service: e.service, instance: e.id });
    else if (e.kind === 'thaw') {
      this.thaws.inc({ service: e.service, instance: e.id });
      if (e.durationMs !== undefined) this.thawDuration.observe({ service: e.service }, e.durationMs / 1_000);
    }
  };
  private readonly onDeploy = (e: CanaryStatus): void => {
    if (e.state === 'promoted' || e.state === 'rolled_back') this.canaries.inc({ service: e.service, result: e.state });
  };
  private readonly onState = (e: StateChangeEvent): void => {
    if (e.to !== 'gone') return;
    // Removed instances take their series with them, so label cardinality stays bounded.
    this.wakes.remove({ service: e.service, instance: e.id });
    this.restarts.remove({ service: e.service, instance: e.id });
    this.oomKills.remove({ service: e.service, instance: e.id });
    this.freezes.remove({ service: e.service, instance: e.id });
    this.thaws.remove({ service: e.service, instance: e.id });
    this.sources.stats.delete(e.service, e.id);
  };

  constructor(sources: MetricsSources) {
    this.sources = sources;
    this.resources = sources.resources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tenement_server_' });
    // These gauges end in _total, which Prometheus reserves for counters (promtool rejects them).
    for (const gauge of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`tenement_server_${gauge}`);
    }

    const list = (): ReturnType<MetricsSources['supervisor']['list']> => sources.supervisor.list();
    new Gauge({
      name: 'tenement_instances', help: 'Registered instances by state.', labelNames: ['state'], registers,
      collect() {
        const counts = new Map<string, number>(INSTANCE_STATES.map((s) => [s, 0]));
        for (const info of list()) counts.set(info.state, (counts.get(info.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });

    this.registerRequestMetrics();

    this.wakes = new Counter({ name: 'tenement_wakes_total', help: 'Idle or stopped instances woken by a request.', labelNames: ['service', 'instance'], registers });
    this.wakeDuration = new Histogram({
      name: 'tenement_wake_duration_seconds', help: 'Time from a wake to the instance being ready.', labelNames: ['service'], buckets: WAKE_BUCKETS_S, registers,
    });
    this.restarts = new Counter({ name: 'tenement_restarts_total', help: 'Restarts after a crash or failed health checks.', labelNames: ['service', 'instance'], registers });

    this.oomKills = new Counter({ name: 'tenement_oom_kills_total', help: 'Instance processes the kernel killed for exceeding memory_limit_mb.', labelNames: ['service', 'instance'], registers });

    this.freezes = new Counter({ name: 'tenement_freezes_total', help: 'Idle instances frozen after freeze_after.', labelNames: ['service', 'instance'], registers });
    this.thaws = new Counter({ name: 'tenement_thaws_total', help: 'Frozen instances thawed (by a request or a wake).', labelNames: ['service', 'instance'], registers });
    this.thawDuration = new Histogram({
      name: 'tenement_thaw_duration_seconds', help: 'Time to thaw a frozen instance.', labelNames: ['service'], buckets: THAW_BUCKETS_S, registers,
    });

    this.canaries = new Counter({
      name: 'tenement_canary_deploys_total', help: 'Canary deploys decided, by result: promoted or rolled_back.', labelNames: ['service', 'result'], registers,
    });

    this.registerResourceMetrics();

    this.rolloutState = new Gauge({
      name: 'tenement_rollout_state', help: 'Each service\'s current or last `ten rollout`: 1 for its state, 0 for the others.', labelNames: ['service', 'state'], registers,
    });
    this.rolloutSteps = new Counter({ name: 'tenement_rollout_steps_total', help: 'Rollout cohorts judged, by verdict.', labelNames: ['service', 'result'], registers });
    this.rollbacks = new Counter({ name: 'tenement_rollout_rollbacks_total', help: 'Rollouts rolled back by themselves after a failed cohort.', labelNames: ['service'], registers });

    const openConnections = sources.openConnections ?? (() => this.sumOpenConnections());
    new Gauge({
      name: 'tenement_proxy_open_connections', help: 'Requests and connections the proxy has open to instances.', registers,
      collect() { this.set(openConnections()); },
    });

    const logLines = sources.logLines;
    scrapeTimeMetric(this.registry, 'tenement_log_lines_total', 'Instance log lines stored, or dropped over the rate limit.', 'counter', () =>
      logLines === undefined ? [] : [
        { labels: { result: 'stored' }, value: logLines.stored },
        { labels: { result: 'dropped' }, value: logLines.dropped },
      ]);

  }

  /** Starts following lifecycle events (restarts, wakes, removals). */
  start(): void {
    this.sources.events.off('lifecycle', this.onLifecycle).on('lifecycle', this.onLifecycle);
    this.sources.events.off('state', this.onState).on('state', this.onState);
    this.sources.events.off('deploy', this.onDeploy).on('deploy', this.onDeploy);
    this.sources.events.off('rollout', this.onRollout).on('rollout', this.onRollout);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Records one wake; called for each `ready` lifecycle event of a wake. */
  observeWake(service: string, id: string, seconds: number): void {
    this.wakes.inc({ service, instance: id });
    this.wakeDuration.observe({ service }, seconds);
  }

  close(): void {
    this.sources.events.off('lifecycle', this.onLifecycle);
    this.sources.events.off('state', this.onState);
    this.sources.events.off('deploy', this.onDeploy);
    this.sources.events.off('rollout', this.onRollout);
    this.registry.clear();
  }

  private registerRequestMetrics(): void {
    const stats = this.sources.stats;
    scrapeTimeMetric(this.registry, 'tenement_requests_total', 'Proxied requests by instance and status class.', 'counter', () => {
      const values: SampleValue[] = [];
      for (const s of stats.all()) {
        STATUS_CLASSES.forEach((status, c) => {
          const n = s.countByClass[c]!;
          if (n > 0) values.push({ labels: { service: s.service, instance: s.id, status }, value: n });
        });
      }
      return values;
    });
    const name = 'tenement_request_duration_seconds';
    scrapeTimeMetric(this.registry, name, 'Proxied request duration, first byte sent to response end.', 'histogram', () => {
      const values: SampleValue[] = [];
      for (const s of stats.all()) {
        STATUS_CLASSES.forEach((status, c) => {
          const count = s.countByClass[c]!;
          if (count === 0) return;
          const buckets = s.bucketsByClass[c]!;
          let cumulative = 0;
          DURATION_BUCKETS_S.forEach((le, i) => {
            cumulative += buckets[i]!;
            values.push({ metricName: `${name}_bucket`, labels: { service: s.service, instance: s.id, status, le }, value: cumulative });
          });
          values.push({ metricName: `${name}_bucket`, labels: { service: s.service, instance: s.id, status, le: '+Inf' }, value: count });
          values.push({ metricName: `${name}_sum`, labels: { service: s.service, instance: s.id, status }, value: s.sumByClass[c]! });
          values.push({ metricName: `${name}_count`, labels: { service: s.service, instance: s.id, status }, value: count });
        });
      }
      return values;
    });
  }

  private registerResourceMetrics(): void {
    const live = (): InstanceUsage[] => (this.resources === undefined ? [] : [...this.resources.all()].filter((u) => u.pid !== null));
    scrapeTimeMetric(this.registry, 'tenement_instance_memory_bytes', 'Memory of everything the instance started: its cgroup, or its process group\'s RSS where it has none (sampled every few seconds).', 'gauge', () =>
      live().map((u) => ({ labels: { service: u.service, instance: u.id }, value: u.memoryBytes })));
    scrapeTimeMetric(this.registry, 'tenement_instance_cpu_seconds_total', 'CPU time of the instance (its cgroup, or its process group) since it started (sampled).', 'counter', () =>
      live().map((u) => ({ labels: { service: u.service, instance: u.id }, value: u.cpuSeconds })));
  }

  private sumOpenConnections(): number {
    let n = 0;
    for (const service of Object.keys(this.sources.supervisor.config.services)) {
      for (const handle of this.sources.supervisor.instancesOf(service)) n += handle.openConnections;
    }
    return n;
  }
}
