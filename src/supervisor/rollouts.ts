/**
 * `ten rollout SERVICE`: moves the service's running instances that run an outdated template to
 * the current one, cohort by cohort; judges each cohort after `interval` on the proxy's counters
 * against the instances not yet moved (rollout-judge.ts), and on a breach puts every moved
 * instance back on the template it ran before. The state is in the store, so a restarted server
 * resumes a running rollout. See docs/lifecycle.md ("Rollouts").
 * @module
 */
import type { ServiceConfig } from '../config/types.js';
import { TenementError } from '../core/errors.js';
import type { RolloutEvent, RolloutState, RolloutStatus, RolloutStep } from '../core/events.js';
import { hasProcess } from '../core/lifecycle.js';
import { formatInstanceName } from '../core/names.js';
import type { RequestStats } from '../core/request-stats.js';
import type { RolloutStore } from '../store/rollouts.js';
import { failsStep, judgeStep, since, snapshotOf, sumSnapshots, type CounterSnapshot, type Verdict } from './rollout-judge.js';
import { checkCohorts, checkIntervalMs, cohortTargets, DEFAULT_COHORTS, DEFAULT_INTERVAL_MS } from './rollout-plan.js';
import type { Supervisor } from './supervisor.js';
import { refuseWhileChanging, type ServiceChanges } from './service-changes.js';

export interface RolloutRequest {
  readonly service: string;
  readonly cohorts?: readonly number[] | undefined;
  readonly intervalMs?: number | undefined;
}

/** One planned instance: the template to go back to, and whether it has left it. */
interface Planned {
  readonly id: string;
  readonly previous: ServiceConfig;
  readonly previousJson: string;
  movedAt: number | null;
  /** Its counters when it became healthy on the new template (this server's life only). */
  baseline: CounterSnapshot | undefined;
  /** Not running when its turn came: it takes the new template at its next start. */
  skipped: boolean;
}

interface Rollout {
  readonly service: string;
  readonly cohorts: readonly number[];
  readonly intervalMs: number;
  readonly startedAt: number;
  readonly plan: Planned[];
  state: RolloutState;
  /** 0-based cohort in progress. */
  cohort: number;
  reason: string | null;
  message: string | null;
  updatedAt: number;
  /** Ends the interval being waited (pause, abort, server exit). */
  interrupt: () => void;
  /** The loop driving it, while one does. */
  driving: Promise<void> | null;
}

const IN_PROGRESS: ReadonlySet<RolloutState> = new Set(['running', 'paused']);
/** How often a cohort is checked for a breach while its interval runs. */
const CHECK_EVERY_MS = 1_000;

export class Rollouts implements ServiceChanges {
  private readonly supervisor: Supervisor;
  private readonly store: RolloutStore;
  private readonly stats: RequestStats;
  private readonly rollouts = new Map<string, Rollout>();
  private closed = false;

  /** Every engine that changes a service (this one included); filled once all exist. */
  private readonly engines: readonly ServiceChanges[];

  constructor(deps: { supervisor: Supervisor; store: RolloutStore; stats: RequestStats; engines: readonly ServiceChanges[] }) {
    this.supervisor = deps.supervisor;
    this.store = deps.store;
    this.stats = deps.stats;
    this.engines = deps.engines;
  }

  changeInProgress(service: string): string | undefined {
    const rollout = this.rollouts.get(service);
    return rollout !== undefined && IN_PROGRESS.has(rollout.state) ? `the rollout of ${service} (${rollout.state})` : undefined;
  }

  /**
   * After boot (instances adopted or started): a running rollout goes on, re-judging its current
   * cohort from fresh counters; one that was rolling back finishes; a paused one stays paused; one
   * whose instances or service are gone is aborted with the reason.
   */
  resumeAfterBoot(): void {
    for (const row of this.store.all()) {
      const rollout: Rollout = {
        service: row.service, cohorts: row.cohorts, intervalMs: row.intervalMs, startedAt: row.startedAt,
        state: row.state, cohort: row.cohort, reason: row.reason, message: row.message, updatedAt: row.updatedAt,
        interrupt: () => undefined, driving: null,
        plan: row.instances.map((i) => ({
          id: i.id, previous: Object.freeze(JSON.parse(i.previousTemplate) as ServiceConfig), previousJson: i.previousTemplate,
          movedAt: i.movedAt, baseline: undefined, skipped: false,
        })),
      };
      this.rollouts.set(row.service, rollout);
      if (!IN_PROGRESS.has(rollout.state)) continue;
      const gone = rollout.plan.filter((p) => this.supervisor.get(rollout.service, p.id) === undefined).map((p) => formatInstanceName(rollout.service, p.id));
      if (!Object.hasOwn(this.supervisor.config.services, rollout.service)) {
        this.finish(rollout, 'aborted', 'abort', `service ${rollout.service} is no longer in the config`);
      } else if (gone.length > 0) {
        this.finish(rollout, 'aborted', 'abort', `${listed(gone)} ${gone.length === 1 ? 'was' : 'were'} removed since the rollout began`);
      } else if (rollout.reason !== null && rollout.state !== 'paused') {
        this.drive(rollout, () => this.rollBack(rollout, rollout.reason!));
      } else if (rollout.state !== 'paused') {
        this.record(rollout, 'resume', `resumed after a server restart: judging cohort ${this.cohortLabel(rollout)} again from fresh counters`);
        this.drive(rollout, () => this.advance(rollout));
      }
    }
  }

  start(request: RolloutRequest): RolloutStatus {
    if (this.closed) throw new TenementError('unavailable', 'the server is stopping');
    const service = this.supervisor.service(request.service);
    const cohorts = request.cohorts ?? DEFAULT_COHORTS;
    const intervalMs = request.intervalMs ?? DEFAULT_INTERVAL_MS;
    checkCohorts(cohorts);
    checkIntervalMs(intervalMs);
    const existing = this.rollouts.get(service.name);
    if (existing !== undefined && IN_PROGRESS.has(existing.state)) {
      throw new TenementError('conflict', `a rollout of ${service.name} is already ${existing.state} (cohort ${this.cohortLabel(existing)}, ${this.movedCount(existing)}/${existing.plan.length} moved)`, {
        hint: `follow it with \`ten rollout status ${service.name}\`, or stop it with \`ten rollout abort ${service.name}\``,
      });
    }
    refuseWhileChanging(this.engines, this, service.name);
    const outdated = this.supervisor.list().filter((i) => i.service === service.name && i.outdated && hasProcess(i.state));
    if (outdated.length === 0) {
      throw new TenementError('conflict', `nothing to roll out: no running instance of ${service.name} is on an outdated template`, {
        hint: `change [service.${service.name}] in tenement.toml and \`ten reload\` first; idle and stopped instances take the new template at their next start`,
      });
    }
    const now = Date.now();
    const plan: Planned[] = outdated.map((i) => {
      const previous = this.supervisor.get(service.name, i.id)!.serviceConfig;
      return { id: i.id, previous, previousJson: JSON.stringify(previous), movedAt: null, baseline: undefined, skipped: false };
    });
    const rollout: Rollout = {
      service: service.name, cohorts: [...cohorts], intervalMs, startedAt: now, plan, state: 'running', cohort: 0, reason: null,
      message: `rolling out ${service.name} to ${plan.length} running instance${plan.length === 1 ? '' : 's'} in ${cohorts.length} cohort${cohorts.length === 1 ? '' : 's'} (${cohorts.join(', ')} %), ${intervalMs / 1000} s each`,
      updatedAt: now, interrupt: () => undefined, driving: null,
    };
    this.store.create({
      service: rollout.service, cohorts: rollout.cohorts, intervalMs, startedAt: now, message: rollout.message,
      instances: plan.map((p) => ({ id: p.id, previousTemplate: p.previousJson, movedAt: null })),
    });
    this.rollouts.set(service.name, rollout);
    this.emit(rollout, 'start');
    this.drive(rollout, () => this.advance(rollout));
    return this.statusOf(rollout);
  }

  /** The service's current or most recent rollout; `not_found` when it never had one. */
  status(service: string): RolloutStatus {
    return this.statusOf(this.require(service));
  }

  list(): RolloutStatus[] {
    return [...this.rollouts.values()].sort((a, b) => (a.service < b.service ? -1 : 1)).map((r) => this.statusOf(r));
  }

  /** Stops advancing once the restarts under way are done; `resume` goes on from this cohort. */
  pause(service: string): RolloutStatus {
    const rollout = this.require(service);
    this.refuseUnless(rollout, 'running', 'pause');
    rollout.state = 'paused';
    rollout.interrupt();
    this.record(rollout, 'pause', `paused at cohort ${this.cohortLabel(rollout)} (${this.movedCount(rollout)}/${rollout.plan.length} moved)`);
    return this.statusOf(rollout);
  }

  /** Goes on from the cohort it was paused in, judging it again over a whole interval. */
  resume(service: string): RolloutStatus {
    const rollout = this.require(service);
    this.refuseUnless(rollout, 'paused', 'resume');
    rollout.state = 'running';
    this.record(rollout, 'resume', `resumed at cohort ${this.cohortLabel(rollout)}`);
    this.drive(rollout, () => this.advance(rollout));
    return this.statusOf(rollout);
  }

  /** Stops for good; the moved instances stay on the new template (`ten rollout` again moves the rest). */
  abort(service: string): RolloutStatus {
    const rollout = this.require(service);
    if (!IN_PROGRESS.has(rollout.state)) this.refuseUnless(rollout, 'running', 'abort');
    this.refuseWhileRollingBack(rollout, 'abort');
    rollout.interrupt();
    this.finish(rollout, 'aborted', 'abort', 'aborted by the operator', `aborted at cohort ${this.cohortLabel(rollout)}: ${this.movedCount(rollout)} instance(s) stay on the new template, the others on their old one`);
    return this.statusOf(rollout);
  }

  /** The server is exiting: nothing is judged or written any more; the store keeps where it was. */
  close(): void {
    this.closed = true;
    for (const rollout of this.rollouts.values()) rollout.interrupt();
  }

  /** Runs one loop per rollout; a second call while one runs waits for it (pause then resume). */
  private drive(rollout: Rollout, step: () => Promise<void>): void {
    const before = rollout.driving ?? Promise.resolve();
    const driving = before.then(step).catch((err: unknown) => {
      if (!this.closed) this.finish(rollout, 'aborted', 'abort', `internal error: ${err instanceof Error ? err.message : String(err)}`);
    }).finally(() => {
      if (rollout.driving === driving) rollout.driving = null;
    });
    rollout.driving = driving;
  }

  private async advance(rollout: Rollout): Promise<void> {
    const targets = cohortTargets(rollout.cohorts, rollout.plan.length);
    while (this.isDriving(rollout)) {
      const due = rollout.plan.slice(0, targets[rollout.cohort]).filter((p) => p.movedAt === null && !p.skipped);
      const failures = (await Promise.all(due.map((p) => this.move(rollout, p)))).filter((f) => f !== undefined);
      // Aborted meanwhile: nothing more happens. Paused: a failed move is still rolled back.
      if (this.closed || !IN_PROGRESS.has(rollout.state)) return;
      if (failures.length > 0) return this.rollBack(rollout, failures.join('; '));
      if (!this.isDriving(rollout)) return;

      const verdict = await this.judge(rollout);
      if (verdict === undefined) return;
      if (!verdict.ok) return this.rollBack(rollout, `cohort ${this.cohortLabel(rollout)}: ${verdict.reason}`);
      this.record(rollout, 'pass', `cohort ${this.cohortLabel(rollout)} passed: ${verdict.summary}`);
      // A cohort that would move no one more (few instances) is not judged again.
      const next = targets.findIndex((n, i) => i > rollout.cohort && n > targets[rollout.cohort]!);
      if (next === -1) {
        rollout.cohort = rollout.cohorts.length - 1;
        const skipped = rollout.plan.filter((p) => p.skipped).length;
        const rest = skipped === 0 ? '' : `; ${skipped} stopped meanwhile and take the new template at their next start`;
        this.finish(rollout, 'succeeded', 'succeed', null, `rolled out: ${this.movedCount(rollout)}/${rollout.plan.length} instances on the new template${rest}`);
        return;
      }
      rollout.cohort = next;
    }
  }

  /** Restarts one instance on the current template; resolves the failure line, or undefined. */
  private async move(rollout: Rollout, p: Planned): Promise<string | undefined> {
    const name = formatInstanceName(rollout.service, p.id);
    const handle = this.supervisor.get(rollout.service, p.id);
    const current = this.supervisor.config.services[rollout.service];
    if (handle === undefined || current === undefined || !hasProcess(handle.state)) {
      p.skipped = true;
      return undefined;
    }
    p.movedAt = Date.now();
    this.store.setMoved(rollout.service, p.id, p.movedAt);
    if (handle.serviceConfig !== current) {
      try {
        await this.supervisor.restartOn(rollout.service, p.id, current);
      } catch (err) {
        return `${name} did not become healthy on the new template (${err instanceof Error ? err.message : String(err)})`;
      }
    }
    if (this.closed) return undefined;
    p.baseline = this.snapshot(rollout.service, p.id);
    this.instanceLine(rollout.service, p.id, `moved to the current template by the rollout (cohort ${this.cohortLabel(rollout)})`);
    this.record(rollout, 'move', `cohort ${this.cohortLabel(rollout)}: ${name} moved (${this.movedCount(rollout)}/${rollout.plan.length})`);
    return undefined;
  }

  /**
   * Judges the moved instances against the others over the interval: a restart or failing health
   * as soon as it shows (checked every second), the rest once the whole interval has gone by;
   * undefined if interrupted.
   */
  private async judge(rollout: Rollout): Promise<Verdict | undefined> {
    const begin = new Map(rollout.plan.map((p) => [p.id, this.snapshot(rollout.service, p.id)]));
    for (const p of rollout.plan) if (p.movedAt !== null) p.baseline ??= begin.get(p.id);
    const end = Date.now() + rollout.intervalMs;
    for (;;) {
      const left = end - Date.now();
      if (!await this.wait(rollout, Math.max(0, Math.min(left, CHECK_EVERY_MS)))) return undefined;
      const last = left <= CHECK_EVERY_MS;
      const verdict = this.verdict(rollout, begin, last);
      if (!verdict.ok || last) return verdict;
    }
  }

  /**
   * The moved instances since they moved against the others since `begin`, now. Before the end of
   * the interval only restarts and health count: rates and latency wait for the whole sample.
   */
  private verdict(rollout: Rollout, begin: ReadonlyMap<string, CounterSnapshot>, isFinal: boolean): Verdict {
    const moved = rollout.plan.filter((p) => p.movedAt !== null && this.supervisor.get(rollout.service, p.id) !== undefined);
    const others = rollout.plan.filter((p) => p.movedAt === null && !p.skipped);
    const unhealthy = moved.filter((p) => failsStep(this.supervisor.info(rollout.service, p.id).health))
      .map((p) => formatInstanceName(rollout.service, p.id));
    const movedSum = sumSnapshots(moved.map((p) => since(this.snapshot(rollout.service, p.id), p.baseline!)));
    const othersSum = sumSnapshots(others.map((p) => since(this.snapshot(rollout.service, p.id), begin.get(p.id)!)));
    const thresholds = (this.supervisor.config.services[rollout.service] ?? rollout.plan[0]!.previous).rollout;
    return judgeStep(movedSum, othersSum, { unhealthy }, isFinal ? thresholds : { ...thresholds, minRequests: Number.POSITIVE_INFINITY });
  }

  /** Puts every moved instance back on the template it ran before, then `rolled_back`. */
  private async rollBack(rollout: Rollout, reason: string): Promise<void> {
    const moved = rollout.plan.filter((p) => p.movedAt !== null);
    rollout.state = 'running';
    rollout.reason = reason;
    this.record(rollout, 'breach', `${reason}: rolling back ${moved.length} instance${moved.length === 1 ? '' : 's'}`);
    const failed: string[] = [];
    await Promise.all(moved.map(async (p) => {
      const name = formatInstanceName(rollout.service, p.id);
      if (this.supervisor.get(rollout.service, p.id) === undefined) return;
      try {
        await this.supervisor.restartOn(rollout.service, p.id, p.previous);
      } catch (err) {
        if (!this.closed) failed.push(`${name} (${err instanceof Error ? err.message : String(err)})`);
        return;
      }
      if (this.closed) return;
      p.movedAt = null;
      this.store.setMoved(rollout.service, p.id, null);
      this.instanceLine(rollout.service, p.id, `put back on its previous template by the rollout: ${reason}`);
    }));
    if (this.closed) return;
    const back = moved.length - failed.length;
    this.finish(rollout, 'rolled_back', 'rollback', reason,
      `rolled back: ${back} instance${back === 1 ? '' : 's'} back on the previous template${failed.length === 0 ? '' : `; could not put back ${failed.join(', ')}`}`);
  }

  /** Resolves true after `ms`, false if paused, aborted or the server exits meanwhile. */
  private wait(rollout: Rollout, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.isDriving(rollout)), ms);
      rollout.interrupt = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
  }

  private isDriving(rollout: Rollout): boolean {
    return !this.closed && IN_PROGRESS.has(rollout.state) && rollout.state !== 'paused' && rollout.reason === null;
  }

  /** Counters of one instance now; a removed one has none (and gets no stats entry back). */
  private snapshot(service: string, id: string): CounterSnapshot {
    if (this.supervisor.get(service, id) === undefined) return snapshotOf(undefined, 0);
    return snapshotOf(this.stats.for(service, id), this.supervisor.info(service, id).restarts);
  }

  private finish(rollout: Rollout, state: RolloutState, step: RolloutStep, reason: string | null, message?: string): void {
    rollout.state = state;
    rollout.reason = reason;
    this.record(rollout, step, message ?? reason ?? state);
  }

  /** Stores the rollout's state and tells the event bus (SSE, metrics, the dashboard). */
  private record(rollout: Rollout, step: RolloutStep, message: string): void {
    if (this.closed) return;
    rollout.message = message;
    rollout.updatedAt = Date.now();
    this.store.update(rollout.service, { state: rollout.state, cohort: rollout.cohort, reason: rollout.reason, message, at: rollout.updatedAt });
    this.emit(rollout, step);
  }

  private emit(rollout: Rollout, step: RolloutStep): void {
    const event: RolloutEvent = { ...this.statusOf(rollout), step, at: rollout.updatedAt };
    this.supervisor.events.emit('rollout', event);
  }

  /** A line in the instance's own log, like its other lifecycle events. */
  private instanceLine(service: string, id: string, message: string): void {
    this.supervisor.events.emit('lifecycle', { instance: formatInstanceName(service, id), service, id, kind: 'rollout', message, at: Date.now() });
  }

  private statusOf(r: Rollout): RolloutStatus {
    return {
      service: r.service, state: r.state, cohorts: [...r.cohorts], cohort: r.cohort + 1, interval_s: r.intervalMs / 1000,
      moved: this.movedCount(r), total: r.plan.length, reason: r.reason, message: r.message,
      started_at: new Date(r.startedAt).toISOString(), updated_at: new Date(r.updatedAt).toISOString(),
    };
  }

  private movedCount(r: Rollout): number {
    return r.plan.filter((p) => p.movedAt !== null).length;
  }

  private cohortLabel(r: Rollout): string {
    return `${r.cohort + 1}/${r.cohorts.length}`;
  }

  private require(service: string): Rollout {
    const rollout = this.rollouts.get(service);
    if (rollout === undefined) {
      throw new TenementError('not_found', `no rollout of ${service}`, { hint: `start one with \`ten rollout ${service}\`` });
    }
    return rollout;
  }

  private refuseUnless(rollout: Rollout, state: RolloutState, verb: string): void {
    this.refuseWhileRollingBack(rollout, verb);
    if (rollout.state === state) return;
    throw new TenementError('conflict', `cannot ${verb} the rollout of ${rollout.service}: it is ${rollout.state.replace('_', ' ')}`);
  }

  private refuseWhileRollingBack(rollout: Rollout, verb: string): void {
    if (IN_PROGRESS.has(rollout.state) && rollout.reason !== null) {
      throw new TenementError('conflict', `cannot ${verb} the rollout of ${rollout.service}: it is rolling back (${rollout.reason})`);
    }
  }
}

function listed(names: readonly string[]): string {
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
}
