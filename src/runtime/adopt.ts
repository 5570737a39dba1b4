/**
 * Adoption: a process group a previous `ten serve` started (and left running when it exited or
 * crashed) is taken over by the next one, which watches, limits, freezes and stops it as if it had
 * started it: its cgroup is re-attached. It is not our child, so its exit is noticed by polling
 * and its exit status is unknown.
 * @module
 */
import { emptyGroup, groupStopper } from './process-group.js';
import { isProcessRunning, readProcStat } from './proc-stat.js';
import type { Adoption, AppliedLimits, ExitInfo, LimitsProvider, Orphan, RunningProcess } from './runtime.js';

/** How often an adopted leader is checked; its exit is noticed within this. */
const ADOPTED_POLL_MS = 100;

/**
 * Why `orphan` must not be adopted (nor its group signalled), or its cgroup (undefined where the
 * host gives none). A tenant cannot pass for another process: the pid must have the recorded start
 * time (a reused pid has another), lead its own process group (as every leader tenement starts
 * does), and be in the instance's cgroup, which a tenant cannot leave.
 */
export async function checkOrphan(orphan: Orphan, limits: LimitsProvider | undefined): Promise<{ cgroup: AppliedLimits | undefined } | { refused: string }> {
  const { pid, startTime } = orphan;
  // kill(-0) is our own group and kill(-1) everyone: a corrupt record must never get there.
  if (!Number.isInteger(pid) || pid <= 1) return { refused: 'its recorded pid is invalid' };
  const stat = readProcStat(pid);
  if (stat === undefined || !isProcessRunning(pid, startTime)) return { refused: `its process (pid ${pid}) is gone` };
  if (stat.pgrp !== pid) return { refused: `pid ${pid} no longer leads its process group` };
  return limits?.reattach === undefined ? { cgroup: undefined } : limits.reattach(orphan.instance, pid);
}

/** Adopts `orphan` if checkOrphan lets it; `onExit` runs once its group and cgroup are gone. */
export async function adoptProcessGroup(
  orphan: Orphan,
  limits: LimitsProvider | undefined,
  onExit?: () => Promise<void>,
): Promise<Adoption> {
  const found = await checkOrphan(orphan, limits);
  if ('refused' in found) return found;
  const { cgroup } = found;
  const { pid, startTime } = orphan;
  let isLeaderGone = false;
  const group = groupStopper<ExitInfo>(pid, () => isLeaderGone);

  const exited = (async (): Promise<ExitInfo> => {
    while (isProcessRunning(pid, startTime)) await new Promise((resolve) => setTimeout(resolve, ADOPTED_POLL_MS));
    isLeaderGone = true;
    await emptyGroup(pid, group.killAt() ?? Date.now());
    // Whatever left the process group (setsid) is still in the cgroup: it goes too.
    await cgroup?.killAll().catch(() => undefined);
    const oomKilled = await cgroup?.wasOomKilled().catch(() => false) ?? false;
    await onExit?.().catch(() => undefined);
    await cgroup?.release().catch(() => undefined);
    // Its parent was the previous server: the exit status went to whoever reaped it, not to us.
    return { code: null, signal: null, oomKilled };
  })();

  const stop = async (timeoutMs: number): Promise<ExitInfo> => {
    // Left frozen, it would take the SIGTERM only at the SIGKILL: thawed first, the stop is graceful.
    await cgroup?.thaw().catch(() => undefined);
    return group.stop(exited, timeoutMs);
  };
  const frozen = (await cgroup?.isFrozen().catch(() => false)) ?? false;
  const proc: RunningProcess = { pid, startTime, exited, stop, ...(cgroup === undefined ? {} : { cgroup }) };
  return { proc, frozen };
}
