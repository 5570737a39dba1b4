/**
 * What the supervisor offers the layers above it (proxy, api, observability): the live instance
 * handle read on the proxy's hot path, and the operations the API drives.
 * @module
 */
import type { Config, Isolation, ServiceConfig } from '../config/types.js';
import type { EventBus } from '../core/events.js';
import type { Health, InstanceState } from '../core/lifecycle.js';
import type { ResourceUsage } from '../runtime/runtime.js';

/** One instance as `GET /api/instances` and `ten ps --json` show it (docs/api.md). */
export interface InstanceInfo {
  instance: string;
  service: string;
  id: string;
  state: InstanceState;
  health: Health;
  /** HTTP status of the last health check answered with an error, while checks fail; else null. */
  health_check_status: number | null;
  port: number | null;
  pid: number | null;
  uptime_s: number | null;
  idle_s: number | null;
  weight: number;
  restarts: number;
  isolation: Isolation;
  /** Its process runs a template that a reload has since changed (`ten rollout` moves it). */
  outdated: boolean;
}

/**
 * The live handle of one registered instance. Plain fields, read without locks or allocation by
 * the proxy on every request; written only by the supervisor.
 */
export interface InstanceHandle {
  readonly name: string;
  readonly service: string;
  readonly id: string;
  readonly serviceConfig: ServiceConfig;
  readonly state: InstanceState;
  /** Port of the live process; null without one. */
  readonly port: number | null;
  readonly weight: number;
  /** Open requests and connections (WebSocket, SSE, uploads); the idle timer waits for 0. */
  readonly openConnections: number;
  /** ms timestamp of the last state change (e.g. when a wake began). */
  readonly stateSince: number;
  /** Call when a request or connection to this instance begins... */
  connectionOpened(): void;
  /** ...and when it ends; it marks the instance's last activity unless `isActivity` is false (idle_ignore). */
  connectionClosed(isActivity?: boolean): void;
}

export interface SpawnOptions {
  weight?: number;
  /** Resolve only once healthy (rejects with the failure reason). */
  wait?: boolean;
}

export interface SupervisorApi {
  /** The config in effect (a reload replaces it; read it again rather than keeping it). */
  readonly config: Config;
  readonly events: EventBus;

  /** Hot path: the registered instance, or undefined. */
  get(service: string, id: string): InstanceHandle | undefined;
  /** Hot path: every registered instance of a service (same array until registrations change). */
  instancesOf(service: string): readonly InstanceHandle[];
  /**
   * Makes sure the instance can take a request now: resolves at once if running/degraded; wakes an
   * idle or stopped one (concurrent callers share one start), thaws a frozen one. Rejects with `invalid_state` for
   * held/failed, `startup_timeout` or `spawn_failed` if it does not come up.
   */
  ensureReady(instance: InstanceHandle): Promise<void>;
  /** For `auto_spawn` services: registers and starts `service:id`; `max_instances` if full. */
  autoSpawn(service: string, id: string): Promise<InstanceHandle>;

  /** A configured service; `service_not_found` (with the known ones as a hint) otherwise. */
  service(name: string): ServiceConfig;
  /** `ten wake`: starts waking (or thawing) it without waiting; `invalid_state` if held or failed. */
  wake(service: string, id: string): Promise<InstanceInfo>;
  /**
   * Starts waking a registered instance ahead of its first request (e.g. on the TLS ClientHello's
   * SNI); never throws, never registers, leaves held and failed ones alone.
   */
  prewake(service: string, id: string): void;

  list(): InstanceInfo[];
  /** Memory and CPU of the instance's cgroup now (everything it started); undefined where unknown. */
  resourceUsage(service: string, id: string): Promise<ResourceUsage | undefined>;
  info(service: string, id: string): InstanceInfo;
  spawn(service: string, id: string, options?: SpawnOptions): Promise<InstanceInfo>;
  start(service: string, id: string, options?: { wait?: boolean }): Promise<InstanceInfo>;
  stop(service: string, id: string, options?: { hold?: boolean }): Promise<InstanceInfo>;
  restart(service: string, id: string, options?: { wait?: boolean }): Promise<InstanceInfo>;
  remove(service: string, id: string, options?: { purge?: boolean }): Promise<void>;
  setWeight(service: string, id: string, weight: number): InstanceInfo;
  /** Sets several weights in one store transaction (route swap). */
  setWeights(changes: ReadonlyArray<{ service: string; id: string; weight: number }>): void;
}
