/**
 * Facts about processes and process groups, read from /proc and kill(2) probes (Linux).
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, ... */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** utime + stime + cutime + cstime (fields 14-17), in clock ticks. */
  readonly cpuTicks: number;
  /** Clock ticks since boot when the process started (field 22). */
  readonly startTime: number;
}

/** /proc/PID/stat parsed, or undefined if there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

/** The text of a /proc/PID/stat file parsed; undefined if it is not one. */
export function parseProcStat(text: string): ProcStat | undefined {
  // Field 2 (comm) is "(name)" and the name itself may hold spaces and parens, so the fixed
  // fields are counted from the LAST ')'.
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  const fields = text.slice(close + 2).split(' ', 20);
  const [state, ppid, pgrp] = [fields[0], Number(fields[1]), Number(fields[2])];
  const cpuTicks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isInteger(ppid) || !Number.isInteger(pgrp) || !Number.isInteger(startTime) || !Number.isInteger(cpuTicks)) {
    return undefined;
  }
  return { state, ppid, pgrp, cpuTicks, startTime };
}

/** Kernel start time of `pid` (field 22 of /proc/PID/stat), or undefined if it does not exist. */
export function readStartTime(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

/** Clock ticks per second of /proc times (USER_HZ, 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

/**
 * Wall-clock ms when a process whose start time is `startTime` (ticks since boot) started, from
 * the time since boot in /proc/uptime; undefined if it cannot be read.
 */
export function processStartedAt(startTime: number, now = Date.now()): number | undefined {
  let uptimeSeconds: number;
  try {
    uptimeSeconds = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isFinite(uptimeSeconds)) return undefined;
  return Math.min(now, Math.round(now - uptimeSeconds * 1000 + (startTime * 1000) / TICKS_PER_SECOND));
}

/** Whether process group `pgid` has any member, zombies included (kill(-pgid, 0)). */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The members of process group `pgid` that are not zombies. Orphans are reparented to init, and
 * an init that does not reap leaves zombies that kill(-pgid, 0) still counts; they are dead and
 * hold nothing, so they do not keep a group "running". Scans all of /proc (costly with thousands
 * of processes): call it only after isGroupAlive said yes, and re-check the pids it returned
 * with isLiveMember instead of scanning again.
 */
export function listLiveMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(entry);
    if (isLiveMember(pid, pgid)) members.push(pid);
  }
  return members;
}

/** Whether `pid` is a running (not zombie) member of process group `pgid`. */
export function isLiveMember(pid: number, pgid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.pgrp === pgid && isRunningState(stat.state);
}

/** Whether the process `pid` that started at `startTime` still runs (not gone, reused or a zombie). */
export function isProcessRunning(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime && isRunningState(stat.state);
}

function isRunningState(state: string): boolean {
  return state !== 'Z' && state !== 'X';
}
