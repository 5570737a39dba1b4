/**
 * The in-memory route table: per service, its instances by id and a cumulative-weight array of
 * the pickable ones, rebuilt on supervisor 'state' and 'weight' events. Lookups are Map gets.
 * Each instance route also owns its keep-alive upstream pool and its cached request stats.
 * @module
 */
import type { ServiceConfig } from '../config/types.js';
import { isPickable, isServing } from '../core/lifecycle.js';
import type { StateChangeEvent, WeightChangeEvent } from '../core/events.js';
import type { InstanceRequestStats, RequestStats } from '../core/request-stats.js';
import type { InstanceHandle, SupervisorApi } from '../supervisor/types.js';
import { cumulativeWeights, pickWeighted } from './pick.js';
import { UpstreamPool } from './upstream-pool.js';

/** One registered instance as the proxy sees it. */
export class InstanceRoute {
  readonly handle: InstanceHandle;
  readonly stats: InstanceRequestStats;
  private pool: UpstreamPool | null = null;
  private waiters: Array<() => void> = [];

  constructor(handle: InstanceHandle, stats: InstanceRequestStats, private readonly reportError: (err: unknown) => void) {
    this.handle = handle;
    this.stats = stats;
  }

  /** True when a request can be sent now without waking or waiting. */
  get isReachable(): boolean {
    return this.handle.port !== null && isServing(this.handle.state);
  }

  /** The keep-alive pool for the current process; a new process (new port) gets a new pool. */
  upstream(port: number): UpstreamPool {
    const pool = this.pool;
    if (pool !== null && pool.port === port) return pool;
    pool?.close();
    this.pool = new UpstreamPool(port, this.handle.serviceConfig.requestTimeoutMs, this.reportError);
    return this.pool;
  }

  /** Resolves on the instance's next state change, or after `timeoutMs`. */
  nextStateChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** @internal called by the table on a state event. */
  notifyStateChange(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  close(): void {
    this.pool?.close();
    this.pool = null;
    this.notifyStateChange();
  }
}

/** One configured service: its instances and the weighted choice among the pickable ones. */
export class ServiceRoutes {
  readonly name: string;
  /** Replaced when a reload changes the template. */
  config: ServiceConfig;
  readonly byId = new Map<string, InstanceRoute>();
  /** Instances with weight > 0 in running/degraded/idle, in the order of `cumulative`. */
  pickable: InstanceRoute[] = [];
  cumulative: Float64Array = new Float64Array(0);

  constructor(name: string, config: ServiceConfig) {
    this.name = name;
    this.config = config;
  }

  /** Weighted random pick; undefined when nothing is pickable. */
  pick(): InstanceRoute | undefined {
    const i = pickWeighted(this.cumulative, Math.random());
    return i < 0 ? undefined : this.pickable[i];
  }

  /**
   * Another pickable instance for retry number `attempt` (1-based) after `failed` could not be
   * reached, in table order; undefined once every other one was tried. `failed` may already have
   * left the pickable list (the supervisor saw it die first), which leaves one more to try.
   */
  pickOther(failed: InstanceRoute, attempt: number): InstanceRoute | undefined {
    const n = this.pickable.length;
    const start = this.pickable.indexOf(failed);
    const others = start < 0 ? n : n - 1;
    if (attempt < 1 || attempt > others) return undefined;
    for (let k = 0; k < n; k++) {
      const candidate = this.pickable[(start + attempt + k + n) % n]!;
      if (candidate !== failed) return candidate;
    }
    return undefined;
  }

  rebuildPickable(): void {
    const pickable: InstanceRoute[] = [];
    const weights: number[] = [];
    for (const route of this.byId.values()) {
      const h = route.handle;
      if (h.weight > 0 && isPickable(h.state)) {
        pickable.push(route);
        weights.push(h.weight);
      }
    }
    this.pickable = pickable;
    this.cumulative = cumulativeWeights(weights);
  }
}

export class RouteTable {
  private readonly services = new Map<string, ServiceRoutes>();
  private readonly onState = (e: StateChangeEvent): void => this.handleState(e);
  private readonly onWeight = (e: WeightChangeEvent): void => this.refresh(e.service);
  private readonly onConfig = (): void => this.syncServices();

  constructor(
    private readonly supervisor: SupervisorApi,
    private readonly stats: RequestStats,
    /** Where a contained proxy bug on an upstream connection is reported. */
    private readonly reportError: (err: unknown) => void,
  ) {
    this.syncServices();
    supervisor.events.on('state', this.onState);
    supervisor.events.on('weight', this.onWeight);
    supervisor.events.on('config', this.onConfig);
  }

  /** Services as the config in effect has them (a reload adds, changes or removes some). */
  private syncServices(): void {
    const services = this.supervisor.config.services;
    for (const [name, config] of Object.entries(services)) {
      const existing = this.services.get(name);
      if (existing !== undefined) {
        existing.config = config;
        continue;
      }
      this.services.set(name, new ServiceRoutes(name, config));
      this.refresh(name);
    }
    for (const [name, routes] of this.services) {
      if (Object.hasOwn(services, name)) continue;
      for (const route of routes.byId.values()) route.close();
      this.services.delete(name);
    }
  }

  /** A configured service, or undefined. */
  service(name: string): ServiceRoutes | undefined {
    return this.services.get(name);
  }

  /** A registered instance; falls back to the supervisor once on a miss (registration raced the event). */
  instance(service: string, id: string): InstanceRoute | undefined {
    const routes = this.services.get(service);
    if (routes === undefined) return undefined;
    const route = routes.byId.get(id);
    if (route !== undefined) return route;
    if (this.supervisor.get(service, id) === undefined) return undefined;
    this.refresh(service);
    return routes.byId.get(id);
  }

  /** Every instance route, e.g. for showing open connections. */
  *routes(): IterableIterator<InstanceRoute> {
    for (const s of this.services.values()) yield* s.byId.values();
  }

  /** Re-reads a service's registrations and weights from the supervisor. */
  refresh(service: string): void {
    const routes = this.services.get(service);
    if (routes === undefined) return;
    const handles = this.supervisor.instancesOf(service);
    const seen = new Set<string>();
    for (const handle of handles) {
      seen.add(handle.id);
      const existing = routes.byId.get(handle.id);
      if (existing === undefined || existing.handle !== handle) {
        existing?.close();
        routes.byId.set(handle.id, new InstanceRoute(handle, this.stats.for(service, handle.id), this.reportError));
      }
    }
    for (const [id, route] of routes.byId) {
      if (!seen.has(id)) {
        routes.byId.delete(id);
        route.close();
      }
    }
    routes.rebuildPickable();
  }

  private handleState(e: StateChangeEvent): void {
    this.services.get(e.service)?.byId.get(e.id)?.notifyStateChange();
    this.refresh(e.service);
    // A removed instance's series disappear from /metrics.
    if (e.to === 'gone') this.stats.delete(e.service, e.id);
  }

  /** Unsubscribes and closes every upstream pool. */
  close(): void {
    this.supervisor.events.off('state', this.onState);
    this.supervisor.events.off('weight', this.onWeight);
    this.supervisor.events.off('config', this.onConfig);
    for (const route of this.routes()) route.close();
  }
}
