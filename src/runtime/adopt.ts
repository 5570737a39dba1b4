/**
 * Adoption: a process group a previous `ten serve` started (and left running when it exited or
 * crashed) is taken over by the next one, which watches and stops it as if it had started it.
 * It is not our child, so its exit is noticed by polling and its exit status is unknown.
 * @module
 */
import { emptyGroup, groupStopper } from './process-group.js';
import { isProcessRunning } from './proc-stat.js';
import type { ExitInfo, Orphan, RunningProcess } from './runtime.js';

/** How often an adopted leader is checked; its exit is noticed within this. */
const ADOPTED_POLL_MS = 100;

/** undefined when `orphan` no longer names a live process (gone, a zombie, or a reused pid). */
export function adoptProcessGroup(orphan: Orphan): RunningProcess | undefined {
  const { pid, startTime } = orphan;
  // kill(-0) is our own group and kill(-1) everyone: a corrupt record must never get there.
  if (!Number.isInteger(pid) || pid <= 1 || !isProcessRunning(pid, startTime)) return undefined;
  let isLeaderGone = false;
  const group = groupStopper<ExitInfo>(pid, () => isLeaderGone);

  const exited = (async (): Promise<ExitInfo> => {
    while (isProcessRunning(pid, startTime)) await new Promise((resolve) => setTimeout(resolve, ADOPTED_POLL_MS));
    isLeaderGone = true;
    await emptyGroup(pid, group.killAt() ?? Date.now());
    // Its parent was the previous server: the exit status went to whoever reaped it, not to us.
    return { code: null, signal: null, oomKilled: false };
  })();

  const stop = (timeoutMs: number): Promise<ExitInfo> => group.stop(exited, timeoutMs);

  return { pid, startTime, exited, stop };
}
