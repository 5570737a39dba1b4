/**
 * Canary deploys (`ten deploy SERVICE:V --canary 10,50,100`, docs/api.md `/api/deploys`): the new
 * version starts with no traffic; once healthy it gets each step's share of the service's traffic
 * for `interval`, judged by rollout-judge.ts against the stable versions (the others with weight
 * > 0) on the proxy's counters. A breach puts every weight back as it was; after the last step the
 * new version gets weight 100 and the others 0. Each step is written to the store, so a restarted
 * server resumes the canary at its step.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TenementError, toTenementError } from '../core/errors.js';
import type { CanaryState, CanaryStatus } from '../core/events.js';
import { formatInstanceName } from '../core/names.js';
import type { RequestStats } from '../core/request-stats.js';
import type { CanaryRow, CanaryStore } from '../store/canaries.js';
import type { Deployments } from './deployments.js';
import { failsStep, judgeStep, since, snapshotOf, sumSnapshots, type CounterSnapshot, type Verdict } from './rollout-judge.js';
import type { SupervisorApi } from './types.js';
import { refuseWhileChanging, type ServiceChanges } from './service-changes.js';

export interface CanaryRequest {
  readonly service: string;
  readonly version: string;
  /** Increasing percentages, 1-100. */
  readonly steps: readonly number[];
  readonly intervalMs: number;
  /** How long the new version may take to become healthy. */
  readonly timeoutMs: number;
}

export interface CanaryDeps {
  readonly supervisor: SupervisorApi;
  readonly deployments: Deployments;
  readonly stats: RequestStats;
  readonly store: CanaryStore;
  readonly logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Every engine that changes a service (this one included); filled once all exist. */
  readonly engines: readonly ServiceChanges[];
}

/** Restarts and failing health end a step at once; error rate and latency are judged at its end. */
const WATCH_MS = 250;

interface Canary {
  row: CanaryRow;
  readonly stop: AbortController;
  /** Its loop, settled once it stops (decided, or left for the next server). */
  done: Promise<void>;
}

/** Why a canary's loop stops without deciding: the server shuts down (the store keeps it running). */
const SHUTDOWN = 'shutdown';

export class CanaryDeploys implements ServiceChanges {
  private readonly deps: CanaryDeps;
  private readonly canaries = new Map<string, Canary>();

  constructor(deps: CanaryDeps) {
    this.deps = deps;
    for (const row of deps.store.all()) this.canaries.set(row.service, { row, stop: new AbortController(), done: Promise.resolve() });
  }

  changeInProgress(service: string): string | undefined {
    const canary = this.canaries.get(service);
    return canary !== undefined && isActive(canary.row.state) ? `the canary of ${formatInstanceName(service, canary.row.version)}` : undefined;
  }

  /** Checks the request, answers with the canary starting, and runs it in the background. */
  start(req: CanaryRequest): CanaryStatus {
    const { supervisor } = this.deps;
    const { service, version } = req;
    supervisor.service(service);
    assertSteps(req.steps);
    const running = this.canaries.get(service);
    if (running !== undefined && isActive(running.row.state)) {
      throw new TenementError('conflict', `a canary of ${formatInstanceName(service, running.row.version)} is already ${running.row.state}`, {
        hint: `wait for it, or \`POST /api/deploys/${service}/abort\``,
      });
    }
    refuseWhileChanging(this.deps.engines, this, service);
    const existing = supervisor.get(service, version);
    if (existing !== undefined && existing.weight > 0) {
      throw new TenementError('conflict', `${existing.name} already takes traffic (weight ${existing.weight}): a canary starts a version from weight 0`, {
        hint: `\`ten weight ${existing.name} 0\` first, or deploy another version`,
      });
    }
    const stable = Object.fromEntries(supervisor.instancesOf(service).filter((h) => h.id !== version && h.weight > 0).map((h) => [h.id, h.weight]));
    if (Object.keys(stable).length === 0) {
      throw new TenementError('conflict', `no other version of ${service} takes traffic, so there is nothing to compare a canary with`, {
        hint: `deploy without --canary: \`ten deploy ${formatInstanceName(service, version)}\``,
      });
    }
    const now = Date.now();
    const canary: Canary = {
      row: {
        service, version, state: 'starting', steps: [...req.steps], step: 0, intervalMs: req.intervalMs, timeoutMs: req.timeoutMs,
        stableWeights: stable, reason: null, verdicts: [], startedAt: now, updatedAt: now,
      },
      stop: new AbortController(),
      done: Promise.resolve(),
    };
    this.canaries.set(service, canary);
    this.changed(canary, {}, `canary of ${formatInstanceName(service, version)} starting: steps ${req.steps.join(', ')} %, ${req.intervalMs / 1000} s each`);
    canary.done = this.run(canary);
    return this.statusOf(canary);
  }

  /** After boot: picks up canaries a restart interrupted, at the step they were in. */
  resume(): void {
    for (const canary of this.canaries.values()) {
      if (!isActive(canary.row.state)) continue;
      this.deps.logger.info({ service: canary.row.service, version: canary.row.version, step: canary.row.step }, 'resuming a canary deploy');
      canary.done = this.run(canary);
    }
  }

  /** The current or most recent canary of a service. */
  get(service: string): CanaryStatus {
    const canary = this.canaries.get(service);
    if (canary === undefined) {
      this.deps.supervisor.service(service);
      throw new TenementError('not_found', `no canary deploy of ${service} yet`, { hint: `\`ten deploy ${service}:VERSION --canary 10,50,100\`` });
    }
    return this.statusOf(canary);
  }

  list(): CanaryStatus[] {
    return [...this.canaries.values()].map((c) => this.statusOf(c)).sort((a, b) => a.service.localeCompare(b.service));
  }

  /** Rolls a canary in progress back now; resolves once the weights are restored. */
  async abort(service: string): Promise<CanaryStatus> {
    const canary = this.canaries.get(service);
    if (canary === undefined || !isActive(canary.row.state)) {
      this.deps.supervisor.service(service);
      throw new TenementError('conflict', `no canary of ${service} is in progress`);
    }
    canary.stop.abort('aborted by the operator');
    await canary.done;
    return this.statusOf(canary);
  }

  /** Server shutdown: loops stop where they are; the store keeps them for the next start. */
  close(): void {
    for (const canary of this.canaries.values()) canary.stop.abort(SHUTDOWN);
  }

  private async run(canary: Canary): Promise<void> {
    const { service, version } = canary.row;
    const signal = canary.stop.signal;
    try {
      // Starting (again after a restart): weight 0 until healthy, as a plain deploy does.
      const waitHealthy = this.deps.deployments.deploy({ service, version, weight: 0, timeoutMs: canary.row.timeoutMs });
      await abortable(waitHealthy, signal);
      if (canary.row.step === 0) this.changed(canary, { state: 'running' }, `${formatInstanceName(service, version)} is healthy`);
      for (let index = Math.max(0, canary.row.step - 1); index < canary.row.steps.length; index++) {
        const percent = canary.row.steps[index]!;
        this.applyWeights(canary, percent);
        this.changed(canary, { step: index + 1 }, `canary step ${index + 1}/${canary.row.steps.length}: ${formatInstanceName(service, version)} gets ${percent} % of ${service}'s traffic`);
        const verdict = await this.watchStep(canary, signal);
        if (!verdict.ok) {
          this.rollBack(canary, `step ${index + 1} (${percent} %): ${verdict.reason}`);
          return;
        }
        this.changed(canary, { verdicts: [...canary.row.verdicts, `step ${index + 1} (${percent} %): ${verdict.summary}`] }, `canary step ${index + 1} passed: ${verdict.summary}`);
      }
      this.promote(canary);
    } catch (err) {
      if (signal.aborted && signal.reason === SHUTDOWN) return;
      const reason = signal.aborted ? String(signal.reason) : toTenementError(err).message;
      try {
        this.rollBack(canary, reason);
      } catch (rollbackErr) {
        this.deps.logger.warn({ err: rollbackErr, service, version }, 'canary rollback failed');
      }
    }
  }

  /** Waits out one step, ending it early on a restart or failing health of the new version. */
  private async watchStep(canary: Canary, signal: AbortSignal): Promise<Verdict> {
    const { service, version, intervalMs } = canary.row;
    const thresholds = this.deps.supervisor.service(service).rollout;
    const before = this.snapshots(canary);
    const end = Date.now() + intervalMs;
    for (;;) {
      await sleep(Math.max(0, Math.min(WATCH_MS, end - Date.now())), undefined, { signal });
      const now = this.snapshots(canary);
      const moved = since(now.moved, before.moved);
      const others = since(now.others, before.others);
      const info = this.deps.supervisor.info(service, version);
      const unhealthy = failsStep(info.health) ? [info.instance] : [];
      if (Date.now() >= end || moved.restarts > 0 || unhealthy.length > 0) return judgeStep(moved, others, { unhealthy }, thresholds);
    }
  }

  private snapshots(canary: Canary): { moved: CounterSnapshot; others: CounterSnapshot } {
    const { supervisor, stats } = this.deps;
    const { service, version } = canary.row;
    const of = (id: string): CounterSnapshot | undefined => {
      if (supervisor.get(service, id) === undefined) return undefined;
      return snapshotOf(stats.for(service, id), supervisor.info(service, id).restarts);
    };
    const moved = of(version);
    if (moved === undefined) throw new TenementError('instance_not_found', `${formatInstanceName(service, version)} was removed during its canary`);
    const others = Object.keys(canary.row.stableWeights).map(of).filter((s): s is CounterSnapshot => s !== undefined);
    return { moved, others: sumSnapshots(others) };
  }

  /** The new version at `percent` % of the service's traffic; the stable ones share the rest as before. */
  private applyWeights(canary: Canary, percent: number): void {
    const { service, version, stableWeights } = canary.row;
    const scaled = scaleWeights(stableWeights, 100 - percent);
    this.setWeights(service, [...Object.entries(scaled), [version, percent]]);
  }

  private promote(canary: Canary): void {
    const { service, version, stableWeights } = canary.row;
    this.setWeights(service, [...Object.keys(stableWeights).map((id): [string, number] => [id, 0]), [version, 100]]);
    const others = Object.keys(stableWeights).map((id) => formatInstanceName(service, id)).join(', ');
    this.changed(canary, { state: 'promoted' }, `canary promoted: ${formatInstanceName(service, version)} weight 100, ${others} weight 0`);
  }

  private rollBack(canary: Canary, reason: string): void {
    const { service, version, stableWeights } = canary.row;
    this.setWeights(service, [...Object.entries(stableWeights), [version, 0]]);
    this.changed(canary, { state: 'rolled_back', reason }, `canary rolled back: ${reason}`);
  }

  /** One store transaction; versions removed meanwhile are left out. */
  private setWeights(service: string, weights: ReadonlyArray<readonly [string, number]>): void {
    const { supervisor } = this.deps;
    supervisor.setWeights(weights.filter(([id]) => supervisor.get(service, id) !== undefined).map(([id, weight]) => ({ service, id, weight })));
  }

  private changed(canary: Canary, patch: Partial<Pick<CanaryRow, 'state' | 'step' | 'reason' | 'verdicts'>>, message: string): void {
    canary.row = { ...canary.row, ...patch, updatedAt: Date.now() };
    const { service, version } = canary.row;
    this.deps.store.save(canary.row);
    const supervisor = this.deps.supervisor;
    if (canary.row.state === 'rolled_back') this.deps.logger.warn({ service, version }, message);
    else this.deps.logger.info({ service, version }, message);
    if (supervisor.get(service, version) !== undefined) {
      supervisor.events.emit('lifecycle', { instance: formatInstanceName(service, version), service, id: version, kind: 'canary', message, at: Date.now() });
    }
    supervisor.events.emit('deploy', this.statusOf(canary));
  }

  private statusOf(canary: Canary): CanaryStatus {
    const r = canary.row;
    return {
      service: r.service, version: r.version, instance: formatInstanceName(r.service, r.version), state: r.state as CanaryState,
      steps: r.steps, step: r.step, percent: percentOf(r), interval_s: r.intervalMs / 1000, stable: r.stableWeights,
      reason: r.reason, verdicts: r.verdicts, started_at: new Date(r.startedAt).toISOString(), updated_at: new Date(r.updatedAt).toISOString(),
    };
  }
}

const ACTIVE: ReadonlySet<string> = new Set<CanaryState>(['starting', 'running']);

function isActive(canaryState: string): boolean {
  return ACTIVE.has(canaryState);
}

function percentOf(r: CanaryRow): number {
  if (r.state === 'promoted') return 100;
  if (r.state === 'rolled_back' || r.step === 0) return 0;
  return r.steps[r.step - 1] ?? 0;
}

function assertSteps(steps: readonly number[]): void {
  const ok = steps.length > 0 && steps.every((p, i) => Number.isInteger(p) && p >= 1 && p <= 100 && (i === 0 || p > steps[i - 1]!));
  if (!ok) throw new TenementError('bad_request', `invalid canary steps ${steps.join(',')}: use increasing whole percentages from 1 to 100, e.g. 10,50,100`);
}

/**
 * `weights` scaled to sum to `total`, in proportion, as whole numbers (largest remainder), so a
 * step keeps the stable versions' shares among themselves.
 */
export function scaleWeights(weights: Readonly<Record<string, number>>, total: number): Record<string, number> {
  const entries = Object.entries(weights);
  const sum = entries.reduce((a, [, w]) => a + w, 0);
  if (sum === 0) return Object.fromEntries(entries.map(([id]) => [id, 0]));
  const exact = entries.map(([id, w]) => ({ id, exact: (w * total) / sum }));
  const out = Object.fromEntries(exact.map((e) => [e.id, Math.floor(e.exact)]));
  let left = total - Object.values(out).reduce((a, b) => a + b, 0);
  for (const e of [...exact].sort((a, b) => (b.exact % 1) - (a.exact % 1))) {
    if (left <= 0) break;
    out[e.id]! += 1;
    left--;
  }
  return out;
}

/** `work`, or the abort's reason once `signal` fires (the work goes on, its result unused). */
async function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
