/**
 * Instance lifecycle states (SPEC §2) and which transitions are allowed. Pure.
 * @module
 */

export const INSTANCE_STATES = ['starting', 'running', 'degraded', 'unhealthy', 'failed', 'idle', 'stopped', 'held', 'frozen'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** What the user asked for; survives a server restart. */
export type DesiredState = 'running' | 'stopped' | 'idle' | 'held';

export type Health = 'healthy' | 'degraded' | 'unhealthy' | 'starting' | 'stopped' | 'failed' | 'frozen';

const ALLOWED: Readonly<Record<InstanceState, readonly InstanceState[]>> = {
  starting: ['running', 'unhealthy', 'stopped', 'held', 'idle', 'failed'],
  running: ['degraded', 'unhealthy', 'idle', 'stopped', 'held', 'starting', 'frozen'],
  degraded: ['running', 'unhealthy', 'idle', 'stopped', 'held', 'starting'],
  unhealthy: ['starting', 'failed', 'stopped', 'held'],
  failed: ['starting', 'stopped', 'held'],
  idle: ['starting', 'stopped', 'held'],
  stopped: ['starting', 'held', 'idle'],
  held: ['starting', 'stopped'],
  // Thawed by a request (running); a process that dies while frozen is handled like a crash.
  frozen: ['running', 'unhealthy', 'idle', 'stopped', 'held'],
};

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return from === to || ALLOWED[from].includes(to);
}

/** States in which the instance has (or is getting) a live process; a frozen one keeps its own. */
export function hasProcess(state: InstanceState): boolean {
  return state === 'starting' || state === 'running' || state === 'degraded' || state === 'unhealthy' || state === 'frozen';
}

/** States a `{service}.{domain}` request may be sent to (idle ones are woken, frozen ones thawed). */
export function isPickable(state: InstanceState): boolean {
  return state === 'running' || state === 'degraded' || state === 'idle' || state === 'frozen';
}

/** Asleep: a request has to wake (idle, stopped) or thaw (frozen) the instance first. */
export function isAsleep(state: InstanceState): boolean {
  return state === 'idle' || state === 'stopped' || state === 'frozen';
}

/** `ten ps` without -a: instances with a process, or failed/held. */
export function isListedByDefault(state: InstanceState): boolean {
  return hasProcess(state) || state === 'failed' || state === 'held';
}

export function healthOf(state: InstanceState): Health {
  switch (state) {
    case 'running': return 'healthy';
    case 'degraded': return 'degraded';
    case 'unhealthy': return 'unhealthy';
    case 'starting': return 'starting';
    case 'failed': return 'failed';
    case 'idle': case 'stopped': case 'held': return 'stopped';
    case 'frozen': return 'frozen';
  }
}
