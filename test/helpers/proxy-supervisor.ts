/**
 * A small real SupervisorApi for proxy tests and the proxy bench: instances are plain
 * InstanceHandle objects whose state, port and weight the test sets, with events on the real
 * EventBus. No processes are managed here; the test starts its own upstream apps.
 * @module
 */
import type { Config, ServiceConfig } from '../../src/config/types.js';
import { TenementError } from '../../src/core/errors.js';
import { EventBus } from '../../src/observability/events.js';
import type { InstanceState } from '../../src/supervisor/state.js';
import type { InstanceHandle, InstanceInfo, SupervisorApi } from '../../src/supervisor/types.js';

export function serviceConfig(name: string, overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    name, argv: ['true'], workdir: '/', health: undefined, isolation: 'process', idleTimeoutMs: 0,
    startupTimeoutMs: 2000, requestTimeoutMs: 30_000, stopTimeoutMs: 1000, restart: 'on-failure',
    storagePersist: true, memoryLimitMb: undefined, cpuShares: undefined, storageQuotaMb: undefined,
    autoSpawn: false, maxInstances: 1000, env: {}, ...overrides,
  };
}

export class TestInstance implements InstanceHandle {
  readonly name: string;
  state: InstanceState;
  port: number | null;
  weight: number;
  openConnections = 0;
  opened = 0;
  /** Called by ensureReady for idle/stopped: the test brings the instance up and returns. */
  wake: (() => Promise<void>) | undefined;

  constructor(
    private readonly bus: EventBus,
    readonly service: string,
    readonly id: string,
    readonly serviceConfig: ServiceConfig,
    init: { state?: InstanceState; port?: number | null; weight?: number } = {},
  ) {
    this.name = `${service}:${id}`;
    this.state = init.state ?? 'running';
    this.port = init.port ?? null;
    this.weight = init.weight ?? 100;
  }

  connectionOpened(): void {
    this.openConnections++;
    this.opened++;
  }

  connectionClosed(): void {
    this.openConnections--;
  }

  setState(state: InstanceState, port: number | null = this.port): void {
    const from = this.state;
    this.state = state;
    this.port = port;
    this.bus.emit('state', { instance: this.name, service: this.service, id: this.id, from, to: state, at: Date.now() });
  }

  setWeight(weight: number): void {
    this.weight = weight;
    this.bus.emit('weight', { instance: this.name, service: this.service, id: this.id, weight });
  }
}

export class TestSupervisor implements SupervisorApi {
  readonly events = new EventBus();
  readonly config: Config;
  private readonly byService = new Map<string, TestInstance[]>();

  constructor(services: ServiceConfig[], routing: Partial<Config['routing']> = {}) {
    this.config = {
      file: '/dev/null',
      settings: {} as Config['settings'],
      services: Object.fromEntries(services.map((s) => [s.name, s])),
      instances: {},
      routing: { default: undefined, subdomain: {}, path: {}, ...routing },
    };
    for (const s of services) this.byService.set(s.name, []);
  }

  add(service: string, id: string, init: { state?: InstanceState; port?: number | null; weight?: number } = {}): TestInstance {
    const instance = new TestInstance(this.events, service, id, this.config.services[service]!, init);
    this.byService.set(service, [...(this.byService.get(service) ?? []), instance]);
    this.events.emit('state', { instance: instance.name, service, id, from: null, to: instance.state, at: Date.now() });
    return instance;
  }

  get(service: string, id: string): TestInstance | undefined {
    return this.byService.get(service)?.find((i) => i.id === id);
  }

  instancesOf(service: string): readonly TestInstance[] {
    return this.byService.get(service) ?? [];
  }

  async ensureReady(handle: InstanceHandle): Promise<void> {
    const instance = handle as TestInstance;
    if (instance.state === 'running' || instance.state === 'degraded') return;
    if (instance.state === 'held' || instance.state === 'failed') throw new TenementError('invalid_state', 'not available');
    if (instance.wake === undefined) throw new TenementError('startup_timeout', 'did not start');
    await instance.wake();
  }

  async autoSpawn(service: string, id: string): Promise<InstanceHandle> {
    throw new TenementError('instance_not_found', `no instance ${service}:${id}`);
  }

  list(): InstanceInfo[] { return []; }
  info(): InstanceInfo { throw new TenementError('instance_not_found', 'n/a'); }
  spawn(): Promise<InstanceInfo> { throw new TenementError('internal', 'n/a'); }
  start(): Promise<InstanceInfo> { throw new TenementError('internal', 'n/a'); }
  stop(): Promise<InstanceInfo> { throw new TenementError('internal', 'n/a'); }
  restart(): Promise<InstanceInfo> { throw new TenementError('internal', 'n/a'); }
  remove(): Promise<void> { throw new TenementError('internal', 'n/a'); }
  setWeight(): InstanceInfo { throw new TenementError('internal', 'n/a'); }
  setWeights(): void { throw new TenementError('internal', 'n/a'); }
}
