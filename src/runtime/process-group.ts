/**
 * Process groups as tenement watches and ends them: whether one still has a live member, signals
 * to the whole group, and emptying it within a deadline. Shared by started and adopted processes.
 * @module
 */
import { isGroupAlive, isLiveMember, listLiveMembers } from './proc-stat.js';

/** How often a group that outlived its leader is checked for emptiness. */
const GROUP_POLL_MS = 20;
/** How long SIGKILLed members may take to vanish (D-state waits) before we stop waiting. */
const KILL_WAIT_MS = 2000;

/**
 * Waits for group `pgid` to have no live member; whatever is left at `killAt` is SIGKILLed.
 * Gives up KILL_WAIT_MS after that (an unkillable process must not hang a stop).
 */
export async function emptyGroup(pgid: number, killAt: number): Promise<void> {
  if (await waitGroupGone(pgid, killAt)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, Date.now() + KILL_WAIT_MS);
}

async function waitGroupGone(pgid: number, until: number): Promise<boolean> {
  const members = new GroupMembers(pgid);
  for (;;) {
    if (!members.isRunning()) return true;
    const left = until - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(GROUP_POLL_MS, left)));
  }
}

export function isGroupRunning(pgid: number): boolean {
  return new GroupMembers(pgid).isRunning();
}

/**
 * Answers "does group pgid still have a live member?" while polling: kill(-pgid, 0) first (free),
 * then the members found by one /proc scan, and a new scan only once all of those are dead.
 */
class GroupMembers {
  readonly #pgid: number;
  #known: number[] = [];

  constructor(pgid: number) {
    this.#pgid = pgid;
  }

  isRunning(): boolean {
    if (!isGroupAlive(this.#pgid)) return false;
    this.#known = this.#known.filter((pid) => isLiveMember(pid, this.#pgid));
    if (this.#known.length === 0) this.#known = listLiveMembers(this.#pgid);
    return this.#known.length > 0;
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

/**
 * The stop of a watched group, once: SIGTERM to the group, SIGKILL after the timeout unless the
 * leader is gone by then. `killAt` is when that escalation is due (undefined while no stop was
 * asked for), for emptying the rest of the group by the same deadline.
 */
export function groupStopper<T>(pgid: number, isLeaderGone: () => boolean): {
  killAt: () => number | undefined;
  stop: (exited: Promise<T>, timeoutMs: number) => Promise<T>;
} {
  let killAt: number | undefined;
  let stopping: Promise<T> | undefined;
  const stop = (exited: Promise<T>, timeoutMs: number): Promise<T> => {
    if (stopping !== undefined) return stopping;
    // After the leader's exit the group is already being emptied, and signalling a pgid we no
    // longer watch could hit a reused one.
    if (isLeaderGone()) return (stopping = exited);
    killAt = Date.now() + timeoutMs;
    signalGroup(pgid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!isLeaderGone()) signalGroup(pgid, 'SIGKILL');
    }, timeoutMs);
    stopping = exited.finally(() => clearTimeout(timer));
    return stopping;
  };
  return { killAt: () => killAt, stop };
}
