/**
 * The instance lifecycle (docs/lifecycle.md): every state, the transitions allowed between them,
 * and the questions the other layers ask about a state. The one home of these rules: a new state
 * is one entry in INSTANCE_STATES, one row in RULES (the compiler asks for every field) and its
 * place in the other rows' `next`; then its colour in the dashboard and a line in lifecycle.test.ts,
 * which spells the table out again on purpose. Pure.
 * @module
 */
import { TenementError } from './errors.js';

export const INSTANCE_STATES = ['starting', 'running', 'degraded', 'unhealthy', 'failed', 'idle', 'stopped', 'held', 'frozen'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** What the user asked for; survives a server restart (the store keeps it). */
export type DesiredState = 'running' | 'stopped' | 'idle' | 'held';

export type Health = 'healthy' | 'degraded' | 'unhealthy' | 'starting' | 'stopped' | 'failed' | 'frozen';

/**
 * What a request for the instance meets in a state:
 * `serve` forward now · `wake` start it first (single-flight) · `thaw` thaw its frozen process
 * first (single-flight) · `join-start` a start is under way,
 * wait for it · `await-restart` the supervisor is restarting it, wait for the next state change ·
 * `refuse` an operator must act first (503).
 */
export type RequestOutcome = 'serve' | 'wake' | 'thaw' | 'join-start' | 'await-restart' | 'refuse';

interface StateRules {
  /** States this one may change to (staying put is always allowed). */
  readonly next: readonly InstanceState[];
  readonly onRequest: RequestOutcome;
  /** A process exists or is being started: shutdown must stop it, quotas watch it. */
  readonly hasProcess: boolean;
  /** Takes `{service}.{domain}` traffic by weight (an idle one is woken by it). */
  readonly isPickable: boolean;
  /** `ten ps` shows it without -a. */
  readonly isListedByDefault: boolean;
  /** `ten spawn` of an existing registration may start it again. */
  readonly canSpawn: boolean;
  readonly health: Health;
}

const RULES: Readonly<Record<InstanceState, StateRules>> = {
  // `frozen` from `starting`: boot adopts a process a previous server left frozen as it is.
  starting: {
    next: ['running', 'unhealthy', 'stopped', 'held', 'idle', 'failed', 'frozen'],
    onRequest: 'join-start', hasProcess: true, isPickable: false, isListedByDefault: true, canSpawn: false, health: 'starting',
  },
  running: {
    next: ['degraded', 'unhealthy', 'idle', 'stopped', 'held', 'starting', 'frozen'],
    onRequest: 'serve', hasProcess: true, isPickable: true, isListedByDefault: true, canSpawn: false, health: 'healthy',
  },
  degraded: {
    next: ['running', 'unhealthy', 'idle', 'stopped', 'held', 'starting'],
    onRequest: 'serve', hasProcess: true, isPickable: true, isListedByDefault: true, canSpawn: false, health: 'degraded',
  },
  unhealthy: {
    next: ['starting', 'failed', 'stopped', 'held'],
    onRequest: 'await-restart', hasProcess: true, isPickable: false, isListedByDefault: true, canSpawn: false, health: 'unhealthy',
  },
  failed: {
    next: ['starting', 'stopped', 'held'],
    onRequest: 'refuse', hasProcess: false, isPickable: false, isListedByDefault: true, canSpawn: false, health: 'failed',
  },
  idle: {
    next: ['starting', 'stopped', 'held'],
    onRequest: 'wake', hasProcess: false, isPickable: true, isListedByDefault: false, canSpawn: true, health: 'stopped',
  },
  // `failed` from `stopped`: boot restores a registration that had failed before the restart.
  stopped: {
    next: ['starting', 'held', 'idle', 'failed'],
    onRequest: 'wake', hasProcess: false, isPickable: false, isListedByDefault: false, canSpawn: true, health: 'stopped',
  },
  held: {
    next: ['starting', 'stopped'],
    onRequest: 'refuse', hasProcess: false, isPickable: false, isListedByDefault: true, canSpawn: false, health: 'stopped',
  },
  // freeze_after: the process is kept, its cgroup frozen. A request thaws it (running); idle_timeout,
  // the memory floor or an operator stop it; a process that dies while frozen is handled as a crash.
  frozen: {
    next: ['running', 'unhealthy', 'idle', 'stopped', 'held', 'starting'],
    onRequest: 'thaw', hasProcess: true, isPickable: true, isListedByDefault: true, canSpawn: false, health: 'frozen',
  },
};

/** A state change the table does not allow: a bug in tenement, never a user error. */
export class IllegalTransitionError extends TenementError {
  readonly from: InstanceState;
  readonly to: InstanceState;

  constructor(instance: string, from: InstanceState, to: InstanceState) {
    super('internal', `${instance}: illegal state change ${from} -> ${to}`);
    this.from = from;
    this.to = to;
  }
}

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return from === to || RULES[from].next.includes(to);
}

/** Throws IllegalTransitionError unless `from → to` is in the table. */
export function assertTransition(instance: string, from: InstanceState, to: InstanceState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(instance, from, to);
}

export function requestOutcome(state: InstanceState): RequestOutcome {
  return RULES[state].onRequest;
}

/** Running or degraded: a request can be forwarded now. */
export function isServing(state: InstanceState): boolean {
  return RULES[state].onRequest === 'serve';
}

/** Idle or stopped: a request starts it. */
export function canWake(state: InstanceState): boolean {
  return RULES[state].onRequest === 'wake';
}

/** Asleep (idle, stopped, frozen): a request must wake or thaw it; a probe (idle_ignore) must not. */
export function isAsleep(state: InstanceState): boolean {
  const outcome = RULES[state].onRequest;
  return outcome === 'wake' || outcome === 'thaw';
}

export function isFrozen(state: InstanceState): boolean {
  return state === 'frozen';
}

/** Running and healthy: freeze_after may freeze it (a degraded one is left to its health checks). */
export function canFreeze(state: InstanceState): boolean {
  return state === 'running';
}

/** Running, degraded or frozen: stopped once idle_timeout has passed without traffic. */
export function canIdle(state: InstanceState): boolean {
  return isServing(state) || isFrozen(state);
}

/** Held or failed: requests get 503 and nothing routes to it until an operator acts. */
export function refusesRequests(state: InstanceState): boolean {
  return RULES[state].onRequest === 'refuse';
}

/** States in which the instance has (or is getting) a live process. */
export function hasProcess(state: InstanceState): boolean {
  return RULES[state].hasProcess;
}

/** States a `{service}.{domain}` request may be sent to (idle ones are woken). */
export function isPickable(state: InstanceState): boolean {
  return RULES[state].isPickable;
}

/** `ten ps` without -a: instances with a process, or failed/held. */
export function isListedByDefault(state: InstanceState): boolean {
  return RULES[state].isListedByDefault;
}

/** Whether `ten spawn` may start an already registered instance in this state. */
export function canSpawn(state: InstanceState): boolean {
  return RULES[state].canSpawn;
}

/**
 * The health shown for a state. `failedCheckStatus`: the HTTP status of the last health check
 * answered with an error; a start that gets one is shown as `unhealthy`, so an operator sees why
 * it is not up yet (the state stays `starting` until startup_timeout).
 */
export function healthOf(state: InstanceState, failedCheckStatus: number | null = null): Health {
  if (state === 'starting' && failedCheckStatus !== null) return 'unhealthy';
  return RULES[state].health;
}
