/**
 * All registered instances: registration (spawn, rm), the operations the API drives, boot-time
 * recovery of a previous server's processes, the idle sweep and wake-on-request.
 * @module
 */
import { instanceDataDir } from '../config/instance-env.js';
import type { Config, Isolation, ServiceConfig } from '../config/types.js';
import { TenementError } from '../core/errors.js';
import { canIdle, canSpawn, hasProcess, healthOf, isFrozen, refusesRequests, requestOutcome } from '../core/lifecycle.js';
import { assertName, formatInstanceName } from '../core/names.js';
import type { EventBus } from '../core/events.js';
import type { PortAllocator } from '../runtime/ports.js';
import { readMemAvailableMb } from '../runtime/meminfo.js';
import type { AdoptedProcess, ResourceUsage, Runtime } from '../runtime/runtime.js';
import type { InstanceStore, InstanceRow, OutputOffsetsRow } from '../store/instances.js';
import { Instance, type InstanceContext } from './instance.js';
import type { OutputDir } from './output-files.js';
import { recordedTemplate, restartOnTemplate, sameTemplate } from './templates.js';
import { chownTree, type TenantUsers } from './tenant-users.js';
import type { InstanceHandle, InstanceInfo, SpawnOptions, SupervisorApi } from './types.js';

export interface SupervisorDeps {
  readonly config: Config;
  readonly events: EventBus;
  readonly store: InstanceStore;
  readonly ports: PortAllocator;
  readonly runtimes: Readonly<Record<Isolation, Runtime>>;
  /** Who each instance runs as; without it, the server's own user. */
  readonly users?: TenantUsers;
  readonly logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Instance output to files that outlive the server (see output-files.ts); pipes without it. */
  readonly output?: OutputDir;
  /** MiB of memory the host has available (default: MemAvailable); tests simulate pressure with it. */
  readonly memAvailableMb?: () => Promise<number | undefined>;
}

const NO_INSTANCES: readonly Instance[] = Object.freeze([]);
const DEFAULT_WEIGHT = 100;

export class Supervisor implements SupervisorApi {
  /** The config in effect; replaced as a whole by applyConfig (`ten reload`). */
  config: Config;
  readonly events: EventBus;
  private readonly deps: SupervisorDeps;
  private readonly ctx: InstanceContext;
  /** service → id → instance: two lookups, no string building on the proxy's hot path. */
  private readonly byService = new Map<string, Map<string, Instance>>();
  /** service → instances array, replaced (never mutated) when registrations change. */
  private readonly arrays = new Map<string, readonly Instance[]>();
  private idleSweep: NodeJS.Timeout | undefined;
  private isReclaiming = false;

  constructor(deps: SupervisorDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.events = deps.events;
    // A getter: instances read the settings in effect, which a reload may have replaced.
    const current = (): Config => this.config;
    this.ctx = {
      get config() { return current(); },
      events: deps.events, store: deps.store, ports: deps.ports, runtimes: deps.runtimes, output: deps.output, users: deps.users,
    };
  }

  /**
   * Stops what a crashed predecessor left running, registers `[instances]`, then brings every
   * registration back to its desired state. Resolves when the desired-running ones are started
   * (healthy or not).
   */
  async boot(): Promise<void> {
    const { store } = this.deps;
    const rows = store.all();
    const adopted = new Map<string, AdoptedProcess>();
    await Promise.all(rows.map(async (row) => {
      const adoption = await this.adoptOrphan(row);
      if (adoption === undefined) await this.reapOrphan(row);
      else adopted.set(formatInstanceName(row.service, row.id), adoption);
    }));

    for (const [service, ids] of Object.entries(this.config.instances)) {
      for (const id of ids) store.insert(service, id, DEFAULT_WEIGHT, 'running');
    }

    const starts: Promise<unknown>[] = [];
    for (const row of store.all()) {
      const svc = this.config.services[row.service];
      if (svc === undefined) {
        this.deps.logger.warn({ instance: formatInstanceName(row.service, row.id) }, 'registered instance of a service that is no longer in the config: left alone');
        continue;
      }
      const instance = this.add(svc, row.id, row.weight, row.restarts);
      const adoption = adopted.get(instance.name);
      if (adoption === undefined) this.salvageOutput(row);
      if (adoption !== undefined && row.port !== null) {
        instance.serviceConfig = recordedTemplate(row, svc);
        const offsets = { stdout: row.stdoutOffset, stderr: row.stderrOffset };
        starts.push(instance.adopt(adoption, row.port, offsets).then((ok) => (ok ? undefined : instance.start('boot'))).catch(() => undefined));
      } else if (row.failed) instance.restoreState('failed');
      else if (row.desiredState === 'running') starts.push(instance.start('boot').catch(() => undefined));
      else instance.restoreState(row.desiredState);
    }
    this.armIdleSweep();
    await Promise.all(starts);
  }

  /**
   * The server exits but its processes stay for the next one to adopt: timers stop, output is read
   * up to the last complete line. Returns how many processes were left running, and the output
   * offsets to record once the lines before them are stored.
   */
  detach(): { left: number; offsets: OutputOffsetsRow[] } {
    clearInterval(this.idleSweep);
    let left = 0;
    const offsets: OutputOffsetsRow[] = [];
    for (const instance of this.all()) {
      // A request still in flight must not start a process this server would then leave behind.
      instance.retire('handed over to the next server');
      if (instance.pid !== null) left++;
      const at = instance.detach();
      if (at !== undefined) offsets.push({ service: instance.service, id: instance.id, ...at });
    }
    return { left, offsets };
  }

  /** Where reading each process's output files stands, for the store (see output-files.ts). */
  outputOffsets(): OutputOffsetsRow[] {
    const rows: OutputOffsetsRow[] = [];
    for (const instance of this.all()) {
      const offsets = instance.output.offsets;
      if (offsets !== undefined) rows.push({ service: instance.service, id: instance.id, ...offsets });
    }
    return rows;
  }

  /**
   * Stops every process (in parallel, each within its stop_timeout); registrations stay. A request
   * still in flight can no longer wake anything, so no process outlives the server.
   */
  async shutdown(): Promise<void> {
    clearInterval(this.idleSweep);
    const all = this.all();
    for (const instance of all) instance.retire('stopping with the server');
    // Unhealthy ones too: their pending restart must not fire after shutdown.
    await Promise.all(all.map((i) => (hasProcess(i.state) ? i.stop('stopped') : undefined)));
  }

  get(service: string, id: string): InstanceHandle | undefined { return this.byService.get(service)?.get(id); }

  instancesOf(service: string): readonly InstanceHandle[] { return this.arrays.get(service) ?? NO_INSTANCES; }

  ensureReady(handle: InstanceHandle): Promise<void> {
    const instance = handle as Instance;
    // The proxy may hold the handle of an instance being removed: it must not wake it.
    if (instance.isRetired) return Promise.reject(instance.retiredError());
    switch (requestOutcome(instance.state)) {
      case 'serve':
        return Promise.resolve();
      case 'refuse':
        return Promise.reject(new TenementError('invalid_state', `${instance.name} is ${instance.state}`));
      case 'join-start':
      case 'await-restart':
        return instance.waitUntilRunning(instance.serviceConfig.startupTimeoutMs);
      case 'thaw':
        return instance.thaw();
      case 'wake':
        this.deps.store.setDesired(instance.service, instance.id, 'running');
        return instance.start('wake');
    }
  }

  async autoSpawn(service: string, id: string): Promise<InstanceHandle> {
    const existing = this.get(service, id);
    if (existing !== undefined) return existing;
    const svc = this.service(service);
    if (!svc.autoSpawn) throw new TenementError('instance_not_found', `no instance ${service}:${id}`);
    return this.register(svc, id, DEFAULT_WEIGHT);
  }

  async wake(service: string, id: string): Promise<InstanceInfo> {
    const instance = this.require(service, id);
    if (refusesRequests(instance.state)) {
      throw new TenementError('invalid_state', `${instance.name} is ${instance.state}: traffic and wake do not start it`, { hint: `start it with ten start ${instance.name}` });
    }
    this.ensureReady(instance).catch(() => undefined);
    return this.toInfo(instance, Date.now());
  }

  prewake(service: string, id: string): void {
    const instance = this.byService.get(service)?.get(id);
    if (instance === undefined || refusesRequests(instance.state)) return;
    this.ensureReady(instance).catch(() => undefined);
  }

  list(): InstanceInfo[] {
    const now = Date.now();
    return this.all().map((i) => this.toInfo(i, now));
  }

  resourceUsage(service: string, id: string): Promise<ResourceUsage | undefined> {
    return this.byService.get(service)?.get(id)?.cgroup?.usage().catch(() => undefined) ?? Promise.resolve(undefined);
  }

  info(service: string, id: string): InstanceInfo { return this.toInfo(this.require(service, id), Date.now()); }

  async spawn(service: string, id: string, options: SpawnOptions = {}): Promise<InstanceInfo> {
    const svc = this.service(service);
    if (options.weight !== undefined) assertWeight(options.weight);
    let instance = this.byService.get(service)?.get(id);
    if (instance === undefined) {
      instance = this.register(svc, id, options.weight ?? DEFAULT_WEIGHT);
    } else {
      if (instance.isRetired) throw instance.retiredError();
      if (!canSpawn(instance.state)) {
        throw new TenementError('already_exists', `${instance.name} is already ${instance.state}`, {
          hint: refusesRequests(instance.state) ? `use \`ten restart ${instance.name}\`` : `use \`ten restart ${instance.name}\` to restart it`,
        });
      }
      const weight = options.weight ?? instance.weight;
      this.deps.store.setRunning(service, id, weight);
      this.applyWeight(instance, weight);
    }
    await this.startNow(instance, 'spawn', options.wait === true);
    return this.toInfo(instance, Date.now());
  }

  async start(service: string, id: string, options: { wait?: boolean } = {}): Promise<InstanceInfo> {
    const instance = this.require(service, id);
    await this.launch(instance, 'start', options.wait === true);
    return this.toInfo(instance, Date.now());
  }

  async stop(service: string, id: string, options: { hold?: boolean } = {}): Promise<InstanceInfo> {
    const instance = this.require(service, id);
    const target = options.hold === true ? 'held' : 'stopped';
    this.deps.store.setDesired(service, id, target);
    await instance.stop(target);
    return this.toInfo(instance, Date.now());
  }

  async restart(service: string, id: string, options: { wait?: boolean } = {}): Promise<InstanceInfo> {
    const instance = this.require(service, id);
    await instance.stop('stopped');
    await this.launch(instance, 'start', options.wait === true);
    return this.toInfo(instance, Date.now());
  }

  /**
   * `ten rollout`: restarts a running instance on `template` (the one in effect, or the one it ran
   * before, for a rollback) and resolves once it is healthy; rejects with why it is not.
   */
  restartOn(service: string, id: string, template: ServiceConfig): Promise<void> {
    return restartOnTemplate(this.require(service, id), template, this.deps.store);
  }

  async remove(service: string, id: string, options: { purge?: boolean } = {}): Promise<void> {
    const instance = this.require(service, id);
    if (instance.isRetired) throw new TenementError('instance_not_found', `${instance.name} is already being removed`);
    // Before the stop: requests arriving while it runs must not wake a process nobody tracks.
    instance.retire('being removed');
    await instance.stop('stopped');
    const ids = this.byService.get(service);
    ids?.delete(id);
    this.arrays.set(service, [...(ids?.values() ?? [])]);
    this.deps.store.remove(service, id);
    if (options.purge === true || !instance.serviceConfig.storagePersist) await instance.deleteData();
    else if (this.deps.users?.canSwitch === true) await this.reclaimData(instance);
    this.events.emit('state', { instance: instance.name, service, id, from: instance.state, to: 'gone', at: Date.now() });
    this.events.emit('lifecycle', { instance: instance.name, service, id, kind: 'remove', message: options.purge === true ? 'removed, data deleted' : 'removed', at: Date.now() });
  }

  setWeight(service: string, id: string, weight: number): InstanceInfo {
    assertWeight(weight);
    const instance = this.require(service, id);
    this.deps.store.setWeight(service, id, weight);
    this.applyWeight(instance, weight);
    return this.toInfo(instance, Date.now());
  }

  setWeights(changes: ReadonlyArray<{ service: string; id: string; weight: number }>): void {
    const resolved = changes.map((c) => {
      assertWeight(c.weight);
      return { instance: this.require(c.service, c.id), weight: c.weight };
    });
    this.deps.store.setWeights(changes);
    for (const r of resolved) this.applyWeight(r.instance, r.weight);
  }

  /**
   * Puts a validated config in effect at once (see reload.ts for the checks before this). Instances
   * without a process take the new template now, so their next start uses it; running ones keep
   * theirs (and show as outdated) until they are restarted or rolled out.
   */
  applyConfig(next: Config): void {
    this.config = next;
    for (const instance of this.all()) {
      const template = next.services[instance.service];
      if (template !== undefined && !hasProcess(instance.state)) instance.serviceConfig = template;
      else if (template !== undefined && sameTemplate(instance.serviceConfig, template)) instance.serviceConfig = template;
    }
    clearInterval(this.idleSweep);
    this.armIdleSweep();
    this.events.emit('config', { at: Date.now() });
  }

  /** Registered instances, in name order. */
  private all(): Instance[] {
    const out: Instance[] = [];
    for (const ids of this.byService.values()) out.push(...ids.values());
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async launch(instance: Instance, cause: 'spawn' | 'start', wait: boolean): Promise<void> {
    if (instance.isRetired) throw instance.retiredError();
    this.deps.store.setDesired(instance.service, instance.id, 'running');
    await this.startNow(instance, cause, wait);
  }

  /** Starts a registration whose desired state is already `running` in the store. */
  private async startNow(instance: Instance, cause: 'spawn' | 'start', wait: boolean): Promise<void> {
    instance.resetRestartWindow();
    const started = instance.start(cause);
    if (wait) await started;
    else started.catch(() => undefined);
  }

  private register(svc: ServiceConfig, id: string, weight: number): Instance {
    assertName('id', id);
    const count = this.byService.get(svc.name)?.size ?? 0;
    if (count >= svc.maxInstances) {
      throw new TenementError('max_instances', `service ${svc.name} already has ${count} instances (max_instances = ${svc.maxInstances})`);
    }
    this.deps.store.insert(svc.name, id, weight, 'running');
    return this.add(svc, id, weight, 0);
  }

  private add(svc: ServiceConfig, id: string, weight: number, restarts: number): Instance {
    const instance = new Instance(this.ctx, svc, id, weight, restarts);
    let ids = this.byService.get(svc.name);
    if (ids === undefined) {
      ids = new Map();
      this.byService.set(svc.name, ids);
    }
    ids.set(id, instance);
    this.arrays.set(svc.name, [...ids.values()]);
    this.events.emit('weight', { instance: instance.name, service: svc.name, id, weight });
    return instance;
  }

  private applyWeight(instance: Instance, weight: number): void {
    if (instance.weight === weight) return;
    instance.weight = weight;
    this.events.emit('weight', { instance: instance.name, service: instance.service, id: instance.id, weight });
  }

  /**
   * A live process of a registration that should run, with its port free here: taken over rather
   * than stopped (health-checked before it gets traffic, unless it was left frozen). The runtime
   * it was started at decides whether the record still names it; a refusal is logged.
   */
  private async adoptOrphan(row: InstanceRow): Promise<AdoptedProcess | undefined> {
    if (row.pid === null || row.startTime === null || row.port === null) return undefined;
    const svc = this.config.services[row.service];
    if (row.failed || row.desiredState !== 'running' || svc === undefined) return undefined;
    const instance = formatInstanceName(row.service, row.id);
    const adoption = await this.deps.runtimes[recordedTemplate(row, svc).isolation].adopt({ instance, pid: row.pid, startTime: row.startTime });
    if ('refused' in adoption) {
      this.deps.logger.info({ instance }, `not adopted from the previous server: ${adoption.refused}; started afresh`);
      return undefined;
    }
    if (this.deps.ports.reserve(row.port)) return adoption;
    void adoption.proc.stop(svc.stopTimeoutMs);
    return undefined;
  }

  /** What a process that is gone wrote after the last server stopped reading: stored before its files are reused. */
  private salvageOutput(row: InstanceRow): void {
    const { output } = this.deps;
    if (output === undefined) return;
    const instance = formatInstanceName(row.service, row.id);
    output.salvage(row.service, row.id, { stdout: row.stdoutOffset, stderr: row.stderrOffset }, (stream, line) => {
      this.events.emit('output', { instance, service: row.service, id: row.id, stream, line, at: Date.now() });
    });
  }

  /**
   * Kept data of a removed instance goes back to tenement's user: its uid is free now, and the
   * next instance given it must not find this one's files.
   */
  private async reclaimData(instance: Instance): Promise<void> {
    const dir = instanceDataDir(this.config.settings, instance.service, instance.id);
    await chownTree(dir, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }).catch(() => undefined);
  }

  private async reapOrphan(row: InstanceRow): Promise<void> {
    if (row.pid === null || row.startTime === null) return;
    const svc = this.config.services[row.service];
    const runtime = this.deps.runtimes[svc === undefined ? 'process' : recordedTemplate(row, svc).isolation];
    const instance = formatInstanceName(row.service, row.id);
    const stopped = await runtime.reap({ instance, pid: row.pid, startTime: row.startTime }, svc?.stopTimeoutMs ?? 10_000);
    if (stopped) this.deps.logger.info({ instance }, 'stopped a process left by a previous server');
    this.deps.store.clearProcess(row.service, row.id);
  }

  private armIdleSweep(): void {
    const timeouts = Object.values(this.config.services).flatMap((s) => [s.idleTimeoutMs, s.freezeAfterMs]).filter((t) => t > 0);
    if (timeouts.length === 0) return;
    // A sweep a few times per shortest timeout keeps idling within ~25 % of the configured time.
    const everyMs = Math.max(100, Math.min(1000, Math.floor(Math.min(...timeouts) / 4)));
    this.idleSweep = setInterval(() => this.sweepIdle(), everyMs);
    this.idleSweep.unref();
  }

  private sweepIdle(): void {
    const now = Date.now();
    let hasFrozen = false;
    for (const ids of this.byService.values()) {
      for (const instance of ids.values()) {
        if (instance.isIdleDue(now)) {
          this.deps.store.setDesired(instance.service, instance.id, 'idle');
          void instance.stop('idle');
        } else if (instance.isFreezeDue(now)) {
          void instance.freeze();
        } else if (isFrozen(instance.state)) {
          hasFrozen = true;
        }
      }
    }
    if (hasFrozen && this.config.settings.minFreeMb > 0) void this.reclaimMemory();
  }

  /** While memory available is below min_free_mb, stops frozen instances, the longest frozen first. */
  private async reclaimMemory(): Promise<void> {
    if (this.isReclaiming) return;
    this.isReclaiming = true;
    const floor = this.config.settings.minFreeMb;
    const readAvailable = this.deps.memAvailableMb ?? readMemAvailableMb;
    try {
      for (;;) {
        let oldest: Instance | undefined;
        for (const instance of this.all()) {
          if (isFrozen(instance.state) && (oldest === undefined || instance.stateSince < oldest.stateSince)) oldest = instance;
        }
        if (oldest === undefined) return;
        const available = await readAvailable();
        if (available === undefined || available >= floor || !isFrozen(oldest.state)) return;
        this.deps.store.setDesired(oldest.service, oldest.id, 'idle');
        await oldest.stop('idle', `stopped while frozen: ${Math.round(available)} MiB of memory available, below min_free_mb (${floor})`);
      }
    } finally {
      this.isReclaiming = false;
    }
  }

  service(name: string): ServiceConfig {
    const services = this.config.services;
    if (Object.hasOwn(services, name)) return services[name]!;
    const known = Object.keys(services);
    throw new TenementError('service_not_found', `no service "${name}" in the config`, {
      hint: known.length > 0 ? `services: ${known.join(', ')}` : 'add a [service.NAME] table to tenement.toml',
    });
  }

  private require(service: string, id: string): Instance {
    assertName('service', service);
    assertName('id', id);
    const instance = this.byService.get(service)?.get(id);
    if (instance === undefined) {
      throw new TenementError('instance_not_found', `no instance ${service}:${id}`, { hint: `spawn it first: ten spawn ${service}:${id}` });
    }
    return instance;
  }

  private toInfo(i: Instance, now: number): InstanceInfo {
    const uptime = i.uptimeMs(now);
    const live = canIdle(i.state);
    return {
      instance: i.name,
      service: i.service,
      id: i.id,
      state: i.state,
      health: healthOf(i.state, i.failedCheckStatus),
      health_check_status: hasProcess(i.state) ? i.failedCheckStatus : null,
      port: i.port,
      pid: i.pid,
      uptime_s: uptime === null ? null : Math.floor(uptime / 1000),
      idle_s: live ? (i.openConnections > 0 ? 0 : Math.floor((now - i.lastActivityAt) / 1000)) : null,
      weight: i.weight,
      restarts: i.restarts,
      isolation: i.serviceConfig.isolation,
      outdated: i.serviceConfig !== this.config.services[i.service],
    };
  }
}

function assertWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new TenementError('invalid_weight', `invalid weight ${JSON.stringify(weight)}: use a whole number from 0 to 100`);
  }
}
