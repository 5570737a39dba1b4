/**
 * The typed lifecycle event bus. The supervisor publishes; the API (SSE), the route table, logs,
 * metrics and the dashboard subscribe. It lives in core so that publisher and subscribers depend
 * on it rather than on each other. Listeners must be cheap and must not throw.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { InstanceState } from './lifecycle.js';

export type LifecycleKind =
  | 'spawn' | 'ready' | 'crash' | 'restart' | 'idle' | 'wake' | 'stop' | 'failed'
  | 'unhealthy' | 'degraded' | 'recovered' | 'remove' | 'oom' | 'storage_warning' | 'storage_exceeded'
  | 'freeze' | 'freeze_failed' | 'thaw' | 'adopt'
  /** A canary deploy of this version stepped, was promoted or rolled back (`ten deploy --canary`). */
  | 'canary'
  /** `ten rollout` moved the instance to the current template, or put it back on its previous one. */
  | 'rollout'
  /** The proxy refused an answer of the instance that was not valid HTTP/1.1. */
  | 'bad_response';

export interface StateChangeEvent {
  readonly instance: string;
  readonly service: string;
  readonly id: string;
  readonly from: InstanceState | null;
  readonly to: InstanceState | 'gone';
  readonly at: number;
}

export interface LifecycleEvent {
  readonly instance: string;
  readonly service: string;
  readonly id: string;
  readonly kind: LifecycleKind;
  /** One human line, e.g. "exited with code 1", "restarting in 2000 ms". */
  readonly message: string;
  readonly at: number;
  /** `ready`: ms from the start of this launch to the first healthy answer; `thaw`: ms to thaw. */
  readonly durationMs?: number;
  /** `ready`: what started the launch (a wake's duration is the wake latency). */
  readonly cause?: LaunchCause;
  /** `crash` / `oom`: how the process ended. */
  readonly exitCode?: number | null;
  readonly signal?: string | null;
}

export type LaunchCause = 'spawn' | 'start' | 'wake' | 'restart' | 'boot';

export interface WeightChangeEvent {
  readonly instance: string;
  readonly service: string;
  readonly id: string;
  readonly weight: number;
}

export interface OutputLineEvent {
  readonly instance: string;
  readonly service: string;
  readonly id: string;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  readonly at: number;
}

/** `ten reload` applied a new config: read the supervisor's config again. */
export interface ConfigChangeEvent {
  readonly at: number;
}

/** `ten rollout` states (docs/lifecycle.md): running and paused are in progress, the rest finished. */
export type RolloutState = 'running' | 'paused' | 'succeeded' | 'rolled_back' | 'aborted';

/** A rollout as `GET /api/rollouts/{service}` shows it (docs/api.md). */
export interface RolloutStatus {
  readonly service: string;
  readonly state: RolloutState;
  /** Cumulative percentages of the instances that ran an outdated template at the start. */
  readonly cohorts: readonly number[];
  /** The 1-based cohort in progress, or the last one reached once finished. */
  readonly cohort: number;
  readonly interval_s: number;
  /** Instances on the new template so far (0 again after a rollback). */
  readonly moved: number;
  /** Running outdated instances when the rollout began. */
  readonly total: number;
  /** Why it was rolled back or aborted; null otherwise. */
  readonly reason: string | null;
  /** The last step, one line (`cohort 2/4 passed: …`). */
  readonly message: string | null;
  readonly started_at: string;
  readonly updated_at: string;
}

export type CanaryState = 'starting' | 'running' | 'promoted' | 'rolled_back';

/** A canary deploy as `GET /api/deploys/{service}` shows it, and the `deploy` event on every change (docs/api.md). */
export interface CanaryStatus {
  readonly service: string;
  readonly version: string;
  /** `service:version`. */
  readonly instance: string;
  readonly state: CanaryState;
  /** Percentages of the service's traffic the new version gets, step by step. */
  readonly steps: readonly number[];
  /** 1-based step in progress, or the last one reached once finished; 0 while the version starts. */
  readonly step: number;
  /** The new version's share of the service's traffic now, in %. */
  readonly percent: number;
  readonly interval_s: number;
  /** The other versions' weights before the canary: what a rollback restores. */
  readonly stable: Readonly<Record<string, number>>;
  /** Why it was rolled back; null otherwise. */
  readonly reason: string | null;
  /** One line per step judged good. */
  readonly verdicts: readonly string[];
  readonly started_at: string;
  readonly updated_at: string;
}

/** What just happened to a rollout. */
export type RolloutStep = 'start' | 'move' | 'pass' | 'breach' | 'rollback' | 'pause' | 'resume' | 'abort' | 'succeed';

/** Emitted on every change of a rollout: its status after the step. */
export interface RolloutEvent extends RolloutStatus {
  readonly step: RolloutStep;
  readonly at: number;
}

interface EventMap {
  rollout: [RolloutEvent];
  config: [ConfigChangeEvent];
  deploy: [CanaryStatus];
  state: [StateChangeEvent];
  lifecycle: [LifecycleEvent];
  weight: [WeightChangeEvent];
  output: [OutputLineEvent];
}

export class EventBus extends EventEmitter<EventMap> {
  constructor() {
    super();
    // Many SSE clients may subscribe at once.
    this.setMaxListeners(0);
  }
}
