/**
 * One registered instance and its lifecycle (docs/lifecycle.md): launch and readiness, health checks,
 * crash handling with backoff restarts, stop. The fields the proxy reads on every request are
 * plain properties; everything else happens on state changes.
 * @module
 */
import { rm } from 'node:fs/promises';
import type { Config, ServiceConfig } from '../config/types.js';
import { instanceDataDir } from '../config/instance-env.js';
import { TenementError } from '../core/errors.js';
import { formatInstanceName } from '../core/names.js';
import { assertTransition, canFreeze, canIdle, hasProcess, isFrozen, isServing, refusesRequests, type DesiredState, type InstanceState } from '../core/lifecycle.js';
import type { EventBus, LaunchCause, LifecycleKind } from '../core/events.js';
import { describeExit, type AdoptedProcess, type AppliedLimits, type ExitInfo, type Runtime, type RunningProcess } from '../runtime/runtime.js';
import type { PortAllocator } from '../runtime/ports.js';
import { processStartedAt } from '../runtime/proc-stat.js';
import type { InstanceStore } from '../store/instances.js';
import { backoffDelayMs, countRecent } from './backoff.js';
import { CgroupFreezer } from './freezer.js';
import { OutputSlot, type OutputDir, type OutputOffsets } from './output-files.js';
import { stoppedWhileStarting } from './exit-reasons.js';
import { startInstanceProcess } from './start-process.js';
import { StateWaiters } from './state-waiters.js';
import { ReadinessWaiter, probeOnce, type ProbeRecord } from './readiness.js';
import type { TenantUsers } from './tenant-users.js';
import type { InstanceHandle } from './types.js';

/** What an instance needs from the rest of the server. */
export interface InstanceContext {
  readonly config: Config;
  readonly events: EventBus;
  readonly store: InstanceStore;
  readonly ports: PortAllocator;
  readonly runtimes: Readonly<Record<ServiceConfig['isolation'], Runtime>>;
  /** Output to files that outlive the server; without it, processes write to pipes. */
  readonly output?: OutputDir | undefined;
  /** Who each instance runs as; without it, the server's own user. */
  readonly users?: TenantUsers | undefined;
}

/** Health failures in a row that make a running instance unhealthy (1–2 = degraded). */
const UNHEALTHY_AFTER = 3;

type StopTarget = Exclude<DesiredState, 'running'>;

export class Instance implements InstanceHandle, ProbeRecord {
  readonly name: string;
  readonly service: string;
  readonly id: string;
  /** The template this instance's process runs (or will start) on; see Supervisor.applyConfig. */
  serviceConfig: ServiceConfig;
  state: InstanceState = 'stopped';
  port: number | null = null;
  weight: number;
  openConnections = 0;
  /** ms timestamp of the end of the last request (or of readiness). */
  lastActivityAt = 0;
  /** Automatic restarts over the instance's registered life. */
  restarts: number;
  /** HTTP status of the last health check answered with an error, until one passes; else null. */
  failedCheckStatus: number | null = null;
  /** ms timestamp of the last state change (how long a wake or a freeze has lasted). */
  stateSince = Date.now();

  private readonly ctx: InstanceContext;
  private proc: RunningProcess | null = null;
  private startedAt: number | null = null;
  /** Bumped whenever the current process attempt is abandoned; stale callbacks compare it. */
  private generation = 0;
  private launching: Promise<void> | null = null;
  private recentRestarts: number[] = [];
  /** Restarts before this time don't count towards max_restarts (`ten restart` clears it). */
  private restartWindowSince = 0;
  private healthFailures = 0;
  private healthTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private waiter: ReadinessWaiter | null = null;
  private readonly stateWaiters = new StateWaiters();
  /** The generation whose process crashed (as opposed to being stopped on purpose). */
  private crashedGeneration = -1;
  /** A stop under way: the next launch waits for it (one process per instance at a time). */
  private stopping: Promise<void> | null = null;
  /** The files the current process writes to, when ctx.output is set (offsets: how far they are read). */
  readonly output: OutputSlot;
  /** The current process's cgroup freezer when freeze_after is set. */
  private freezer: CgroupFreezer | null = null;
  private thawing: Promise<void> | null = null;
  /** The template the next launch uses instead of the one in effect (set by a rollout's rollback). */
  nextTemplate: ServiceConfig | undefined;
  /** Why no process may be started any more (being removed, server stopping); null while it may. */
  private retiredBecause: string | null = null;

  constructor(ctx: InstanceContext, serviceConfig: ServiceConfig, id: string, weight: number, restarts: number) {
    this.ctx = ctx;
    this.serviceConfig = serviceConfig;
    this.service = serviceConfig.name;
    this.id = id;
    this.name = formatInstanceName(this.service, id);
    this.weight = weight;
    this.restarts = restarts;
    this.output = new OutputSlot(ctx.output, this.service, id, (stream, line) => this.onLine(stream, line));
  }

  connectionOpened(): void { this.openConnections++; }

  connectionClosed(isActivity = true): void {
    this.openConnections--;
    if (isActivity) this.lastActivityAt = Date.now();
  }

  get pid(): number | null { return this.proc?.pid ?? null; }

  /** The cgroup of its process (for its memory and CPU); undefined without one. */
  get cgroup(): AppliedLimits | undefined { return this.proc?.cgroup; }

  /** Since its process started (an adopted one's too, from its kernel start time); null without one. */
  uptimeMs(now: number): number | null { return this.startedAt === null ? null : now - this.startedAt; }

  /** Restore the state a previous server left without starting anything (boot). */
  restoreState(state: 'stopped' | 'idle' | 'held' | 'failed'): void { this.setState(state); }

  /**
   * Starts a process unless one is running or already starting (concurrent callers share the
   * launch). Resolves once it answers; rejects with why it did not.
   */
  start(cause: LaunchCause): Promise<void> {
    if (this.retiredBecause !== null) return Promise.reject(this.retiredError());
    if (isServing(this.state)) return Promise.resolve();
    if (isFrozen(this.state)) return this.thaw();
    if (this.launching !== null) return this.launching;
    if (cause !== 'restart') clearTimeout(this.restartTimer);
    const launch = this.launch(cause).finally(() => {
      if (this.launching === launch) this.launching = null;
    });
    this.launching = launch;
    return launch;
  }

  /**
   * From now on nothing starts a process for this instance: no wake, restart or start. Called when
   * a remove or the server's shutdown begins, before the stop that ends the current process.
   */
  retire(reason: string): void {
    this.retiredBecause ??= reason;
  }

  get isRetired(): boolean { return this.retiredBecause !== null; }

  retiredError(): TenementError {
    return new TenementError('unavailable', `${this.name} is ${this.retiredBecause ?? 'retired'}`);
  }

  /** Forget earlier restarts: `ten start` / `ten restart` give a failed instance a fresh budget. */
  resetRestartWindow(): void {
    this.restartWindowSince = Date.now();
  }

  /** Resolves when the instance is next running; rejects if it fails, stops or takes too long. */
  waitUntilRunning(timeoutMs: number): Promise<void> {
    if (isServing(this.state)) return Promise.resolve();
    if (this.launching !== null) return this.launching;
    return this.stateWaiters.wait(this.name, timeoutMs);
  }

  /**
   * Stops the process (SIGTERM to the group, SIGKILL after stop_timeout) and settles in `target`.
   * The state changes first, so the proxy stops sending requests to a process on its way out; a
   * wake that arrives meanwhile starts the next process only once this one is gone. A launch that
   * was under way is abandoned, and this resolves only once any process it started is reaped.
   */
  async stop(target: StopTarget, reason?: string): Promise<void> {
    const abandoned = this.launching;
    this.abandonProcess();
    const changed = this.state !== target;
    this.setState(target);
    await this.stopProcess();
    await abandoned?.catch(() => undefined);
    if (changed) this.lifecycle(target === 'idle' ? 'idle' : 'stop', reason ?? (target === 'idle' ? 'stopped after being idle' : target === 'held' ? 'stopped and held' : 'stopped'));
  }

  /** Called by the idle sweep (a frozen instance is stopped at idle_timeout too). */
  isIdleDue(now: number): boolean {
    const timeout = this.serviceConfig.idleTimeoutMs;
    return timeout > 0
      && canIdle(this.state)
      && this.openConnections === 0
      && now - this.lastActivityAt >= timeout;
  }

  /**
   * Takes over a process a previous server left running on `port`, with its cgroup: resolves true
   * once it answered a health check and is running here; false (process stopped, state stopped)
   * if it did not. One left frozen is adopted frozen, unprobed: the next request thaws it.
   */
  async adopt({ proc, frozen }: AdoptedProcess, port: number, offsets: OutputOffsets): Promise<boolean> {
    const gen = ++this.generation;
    const svc = this.serviceConfig;
    this.setState('starting');
    // Its uptime counts from the process's start, not from this adoption.
    [this.proc, this.port, this.startedAt] = [proc, port, processStartedAt(proc.startTime) ?? Date.now()];
    this.freezer = proc.cgroup !== undefined && (svc.freezeAfterMs > 0 || frozen) ? new CgroupFreezer(proc.cgroup, frozen) : null;
    this.output.resume(offsets);
    void proc.exited.then((info) => this.onExit(gen, info));
    if (frozen) {
      // Idle and the memory floor stop it in time; until then it waits for its next request.
      this.lastActivityAt = Date.now();
      this.setState('frozen');
      this.lifecycle('adopt', `adopted frozen from the previous server (pid ${proc.pid}); the next request thaws it`);
      return true;
    }
    const { ok } = await probeOnce(port, svc.health, Math.min(5000, svc.startupTimeoutMs), this);
    if (gen !== this.generation) return true;
    if (!ok) {
      this.lifecycle('unhealthy', `the process (pid ${proc.pid}) left by the previous server did not answer: replaced`);
      await this.stop('stopped');
      return false;
    }
    this.healthFailures = 0;
    this.resume(gen);
    this.lifecycle('adopt', `adopted from the previous server (pid ${proc.pid}), not restarted`);
    return true;
  }

  /**
   * The server is exiting but leaves this process running for the next one to adopt: stop
   * watching it, and read its output up to the last complete line; returns where the next server
   * goes on from.
   */
  detach(): OutputOffsets | undefined {
    this.abandonProcess();
    return this.output.close(false);
  }

  /** Stops watching the current process: its callbacks, health checks and pending restart lapse. */
  private abandonProcess(): void {
    this.generation++;
    clearTimeout(this.restartTimer);
    this.disarmHealth();
    this.waiter?.cancel();
  }


  /** Called by the idle sweep: running, untouched for freeze_after, and able to freeze. */
  isFreezeDue(now: number): boolean {
    return this.freezer !== null && this.serviceConfig.freezeAfterMs > 0 && canFreeze(this.state) && this.openConnections === 0 && now - this.lastActivityAt >= this.serviceConfig.freezeAfterMs;
  }

  /**
   * Freezes the process (no CPU, memory kept) and pauses health checks. The state changes first,
   * so a request arriving meanwhile thaws it (the thaw waits for the freeze to finish).
   */
  async freeze(): Promise<void> {
    const freezer = this.freezer;
    if (freezer === null || !canFreeze(this.state)) return;
    const gen = this.generation;
    this.disarmHealth();
    this.setState('frozen');
    const failed = await freezer.freeze().then(() => null, (err: unknown) => (err instanceof Error ? err.message : 'error'));
    if (failed === null) return this.lifecycle('freeze', `frozen after ${this.serviceConfig.freezeAfterMs / 1000} s without traffic`);
    this.lifecycle('freeze_failed', `could not be frozen (${failed}); left running`);
    if (gen === this.generation && isFrozen(this.state)) this.resume(gen);
  }

  /** Lets a frozen instance run again; concurrent callers share one thaw. */
  thaw(): Promise<void> {
    if (!isFrozen(this.state)) return this.waitUntilRunning(this.serviceConfig.startupTimeoutMs);
    this.thawing ??= this.thawFrozen().finally(() => { this.thawing = null; });
    return this.thawing;
  }

  private async thawFrozen(): Promise<void> {
    const gen = this.generation;
    const began = performance.now();
    const failed = await this.freezer?.thaw().then(() => null, (err: unknown) => (err instanceof Error ? err.message : 'error'));
    if (failed && gen === this.generation) void this.handleFailure(gen, `could not be thawed (${failed})`, false);
    // Stopped (idle_timeout, memory floor, ten stop) while the thaw ran: that stop wins.
    if (failed || gen !== this.generation || !isFrozen(this.state)) throw new TenementError('unavailable', `${this.name} could not be thawed`);
    this.resume(gen);
    const durationMs = Math.round((performance.now() - began) * 1000) / 1000;
    this.ctx.events.emit('lifecycle', { ...this.ids(), kind: 'thaw', message: `thawed in ${durationMs} ms`, at: Date.now(), durationMs });
  }

  /** Back to running after a freeze (or a failed one): counts as activity, health checks resume. */
  private resume(gen: number): void {
    this.lastActivityAt = Date.now();
    this.setState('running');
    this.armHealth(gen);
  }

  private async launch(cause: LaunchCause): Promise<void> {
    const gen = ++this.generation;
    // A new process starts on the template in effect (a reload may have changed it), unless a
    // rollback asked for the one it ran before.
    this.serviceConfig = this.nextTemplate ?? this.ctx.config.services[this.service] ?? this.serviceConfig;
    this.nextTemplate = undefined;
    const svc = this.serviceConfig;
    const began = performance.now();
    this.setState('starting');
    if (cause === 'wake') this.lifecycle('wake', 'woken by a request');
    if (this.stopping !== null) await this.stopping;
    if (gen !== this.generation) throw stoppedWhileStarting(this.name);

    let port: number;
    let proc: RunningProcess;
    let fds: { stdout: number; stderr: number } | undefined;
    try {
      port = await this.ctx.ports.allocate();
    } catch (err) {
      if (gen === this.generation) this.fail('no free port');
      throw err;
    }
    // Stopped (held, removed) while waiting for a port: start nothing.
    if (gen !== this.generation) {
      this.ctx.ports.release(port);
      throw stoppedWhileStarting(this.name);
    }
    try {
      fds = this.output.create();
      proc = await startInstanceProcess(this.ctx, this.ctx.runtimes[svc.isolation], svc, this.id, port, fds, (stream, line) => this.onLine(stream, line));
    } catch (err) {
      this.ctx.ports.release(port);
      this.output.close(true);
      // A stop that came meanwhile has settled the state already.
      if (gen === this.generation) this.fail(err instanceof TenementError ? err.message : 'could not start');
      throw err instanceof TenementError ? err : new TenementError('spawn_failed', `cannot start ${this.name}`, { cause: err });
    }
    if (gen !== this.generation) {
      await proc.stop(svc.stopTimeoutMs);
      this.ctx.ports.release(port);
      throw stoppedWhileStarting(this.name);
    }

    this.proc = proc;
    this.freezer = svc.freezeAfterMs > 0 && proc.cgroup !== undefined ? new CgroupFreezer(proc.cgroup) : null;
    this.port = port;
    this.startedAt = Date.now();
    this.ctx.store.recordProcess(this.service, this.id, port, proc.pid, proc.startTime, JSON.stringify(svc));
    this.lifecycle('spawn', `started (${cause})`);
    void proc.exited.then((info) => this.onExit(gen, info));

    const waiter = new ReadinessWaiter(port, svc.health, this);
    this.waiter = waiter;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      waiter.ready.then(() => 'ready' as const),
      proc.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), svc.startupTimeoutMs); }),
    ]);
    clearTimeout(timer);
    waiter.cancel();
    this.waiter = null;

    if (outcome === 'exited' && this.crashedGeneration === gen) {
      const info = await proc.exited;
      throw new TenementError('spawn_failed', `${this.name} ${describeExit(info)} before it was ready`, { hint: `see its output: ten logs ${this.name}` });
    }
    if (gen !== this.generation || outcome === 'exited') throw stoppedWhileStarting(this.name);
    if (outcome === 'timeout') {
      const seconds = svc.startupTimeoutMs / 1000;
      this.lifecycle('unhealthy', `not ready within startup_timeout (${seconds} s)`);
      void this.handleFailure(gen, `not ready within ${seconds} s`, false);
      throw new TenementError('startup_timeout', `${this.name} did not answer${svc.health === undefined ? '' : ` on ${svc.health}`} within ${seconds} s (startup_timeout)`, { hint: `see its output: ten logs ${this.name}` });
    }

    this.healthFailures = 0;
    this.lastActivityAt = Date.now();
    this.setState('running');
    const durationMs = Math.round((performance.now() - began) * 10) / 10;
    this.ctx.events.emit('lifecycle', { ...this.ids(), kind: 'ready', message: `ready in ${durationMs} ms`, at: Date.now(), durationMs, cause });
    this.armHealth(gen);
  }

  private onLine(stream: 'stdout' | 'stderr', line: string): void {
    this.waiter?.poke();
    this.ctx.events.emit('output', { ...this.ids(), stream, line, at: Date.now() });
  }

  private onExit(gen: number, info: ExitInfo): void {
    if (gen !== this.generation) return;
    this.crashedGeneration = gen;
    const kind: LifecycleKind = info.oomKilled ? 'oom' : 'crash';
    this.ctx.events.emit('lifecycle', { ...this.ids(), kind, message: describeExit(info), at: Date.now(), exitCode: info.code, signal: info.signal });
    const clean = info.code === 0 && info.signal === null && !info.oomKilled;
    void this.handleFailure(gen, describeExit(info), clean);
  }

  /** The process died or stopped answering: stop what is left, then apply the restart policy. */
  private async handleFailure(gen: number, reason: string, cleanExit: boolean): Promise<void> {
    if (gen !== this.generation) return;
    const failedGen = ++this.generation;
    this.disarmHealth();
    this.setState('unhealthy');
    await this.stopProcess();
    if (failedGen !== this.generation) return;

    const policy = this.serviceConfig.restart;
    if (policy === 'never' || (policy === 'on-failure' && cleanExit)) {
      if (cleanExit) {
        this.ctx.store.setDesired(this.service, this.id, 'stopped');
        this.setState('stopped');
        this.lifecycle('stop', `${reason}; not restarted (restart = "${policy}")`);
      } else {
        this.fail(`${reason}; not restarted (restart = "never")`);
      }
      return;
    }
    const settings = this.ctx.config.settings;
    const now = Date.now();
    const recent = countRecent(this.recentRestarts, now, settings.restartWindowMs, this.restartWindowSince);
    if (recent >= settings.maxRestarts) {
      this.fail(`${reason}; gave up after ${recent} restarts within ${settings.restartWindowMs / 1000} s`);
      return;
    }
    const delay = backoffDelayMs(recent, settings.backoffBaseMs, settings.backoffMaxMs);
    this.recentRestarts = this.recentRestarts.filter((t) => t > now - settings.restartWindowMs);
    this.recentRestarts.push(now);
    this.restarts++;
    this.ctx.store.addRestart(this.service, this.id, now, reason);
    this.lifecycle('restart', `${reason}; restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      if (failedGen === this.generation) this.start('restart').catch(() => { /* handled as a state change */ });
    }, delay);
  }

  private fail(reason: string): void {
    this.ctx.store.setFailed(this.service, this.id, true);
    this.setState('failed');
    this.lifecycle('failed', reason);
  }

  private armHealth(gen: number): void {
    this.disarmHealth();
    const interval = this.ctx.config.settings.healthCheckIntervalMs;
    this.healthTimer = setInterval(() => void this.checkHealth(gen), interval);
    this.healthTimer.unref();
  }

  private disarmHealth(): void {
    clearInterval(this.healthTimer);
    this.healthTimer = undefined;
  }

  private async checkHealth(gen: number): Promise<void> {
    if (gen !== this.generation || this.port === null) return;
    const probe = await probeOnce(this.port, this.serviceConfig.health, Math.min(5000, this.ctx.config.settings.healthCheckIntervalMs), this);
    // A probe that was under way when the instance froze says nothing about its health.
    if (gen !== this.generation || isFrozen(this.state)) return;
    if (probe.ok) {
      if (this.healthFailures > 0) {
        this.healthFailures = 0;
        this.setState('running');
        this.lifecycle('recovered', 'health check passed again');
      }
      return;
    }
    this.healthFailures++;
    if (this.healthFailures >= UNHEALTHY_AFTER) {
      this.lifecycle('unhealthy', `failed ${this.healthFailures} health checks in a row`);
      await this.handleFailure(gen, `failed ${this.healthFailures} health checks`, false);
    } else {
      this.setState('degraded');
      this.lifecycle('degraded', `failed health check ${this.healthFailures} of ${UNHEALTHY_AFTER}`);
    }
  }

  /** Ends the current process (if any) and frees what it held; a launch waits for this. */
  private async stopProcess(): Promise<void> {
    const proc = this.proc;
    const freezer = this.freezer;
    const stopping = (async () => {
      // A frozen app gets its SIGTERM only once thawed; a failed thaw leaves it to SIGKILL.
      if (freezer !== null) await freezer.thaw().catch(() => undefined);
      if (proc !== null) await proc.stop(this.serviceConfig.stopTimeoutMs);
      await this.releaseProcess();
    })();
    this.stopping = stopping;
    await stopping;
    if (this.stopping === stopping) this.stopping = null;
  }

  private async releaseProcess(): Promise<void> {
    if (this.port !== null) this.ctx.ports.release(this.port);
    const hadProcess = this.proc !== null;
    this.output.close(true);
    this.proc = null;
    this.freezer = null;
    this.port = null;
    this.startedAt = null;
    if (!hadProcess) return;
    this.ctx.store.clearProcess(this.service, this.id);
    if (!this.serviceConfig.storagePersist) await this.deleteData();
  }

  async deleteData(): Promise<void> {
    await rm(instanceDataDir(this.ctx.config.settings, this.service, this.id), { recursive: true, force: true });
  }

  /** The only writer of `state`; refuses a change the lifecycle table does not allow. */
  private setState(to: InstanceState): void {
    const from = this.state;
    if (from === to) return;
    assertTransition(this.name, from, to);
    this.state = to;
    this.stateSince = Date.now();
    this.ctx.events.emit('state', { ...this.ids(), from, to, at: Date.now() });
    if (isServing(to)) {
      this.stateWaiters.resolveAll();
    } else if (!hasProcess(to)) {
      const err = new TenementError(refusesRequests(to) ? 'invalid_state' : 'unavailable', `${this.name} is ${to}`);
      this.stateWaiters.rejectAll(err);
    }
  }

  private lifecycle(kind: LifecycleKind, message: string): void {
    this.ctx.events.emit('lifecycle', { ...this.ids(), kind, message, at: Date.now() });
  }

  private ids(): { instance: string; service: string; id: string } {
    return { instance: this.name, service: this.service, id: this.id };
  }
}
