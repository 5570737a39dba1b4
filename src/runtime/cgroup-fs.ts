/**
 * Small cgroupfs primitives shared by the v1 and v2 drivers: read a counter, join a cgroup before
 * exec, kill what is left in a cgroup and remove it, tolerating a half-made setup.
 * @module
 */
import { close, closeSync, constants, openSync, readFileSync, write, writeSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// cgroupfs lives in memory: its reads and writes return in microseconds, so they are made
// synchronously. A thread-pool round trip per call costs more than the call, and under CPU
// contention every round trip waits to be scheduled twice, which added up to tens of ms a spawn.

/** The whole file, trimmed; undefined if it does not exist (controller absent, cgroup gone). */
export async function readControl(file: string): Promise<string | undefined> {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENODEV')) return undefined;
    throw err;
  }
}

/** Writes a control file; never creates one (a missing file means the kernel lacks it). */
export async function writeControl(file: string, value: string): Promise<void> {
  writeControlNow(file, value);
}

/** writeControl for a caller that must not yield before the write is done (a thaw). */
export function writeControlNow(file: string, value: string): void {
  const fd = openSync(file, constants.O_WRONLY);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/** Like writeControl for a file an older kernel or an absent controller may lack; true if written. */
export async function writeOptionalControl(file: string, value: string): Promise<boolean> {
  try {
    await writeControl(file, value);
    return true;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw err;
  }
}

/** A number from a one-value file (`memory.current`), or from a `key value` line (`memory.events`). */
export async function readCounter(file: string, key?: string): Promise<number | undefined> {
  const text = await readControl(file);
  if (text === undefined) return undefined;
  if (key === undefined) {
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  }
  for (const line of text.split('\n')) {
    const [name, value] = line.split(/\s+/);
    if (name === key && value !== undefined) return Number(value);
  }
  return undefined;
}

/**
 * argv that moves itself into every cgroup given, then execs `argv`: the process is in its
 * cgroups before the app's first instruction, so nothing it forks can escape the limits. It also
 * gives the app the usual umask 022 (ten serve itself runs with 077 to keep its files private).
 *
 * How it joins is a matter of spawn time (README: Performance): writing a pid to `cgroup.procs`
 * takes the kernel's global threadgroup lock, whose first taker after a pause waits an RCU grace
 * period (5 to 15 ms, more under load). Writing `0` to a v1 hierarchy's `tasks` moves only the writing
 * thread and skips that lock (Linux 5.17+; older kernels take it either way): the shell is
 * single-threaded, so that thread is the whole process. cgroup2 offers no such path
 * (cgroup.threads only moves threads within a threaded subtree), so v2 groups cost the wait.
 */
export function joinCgroupsArgv(groups: { readonly v1?: readonly string[]; readonly v2?: readonly string[] }, argv: readonly string[]): string[] {
  const joins = [
    ...(groups.v1 ?? []).map((dir) => `echo 0 > ${shellQuote(`${dir}/tasks`)} && `),
    ...(groups.v2 ?? []).map((dir) => `echo $$ > ${shellQuote(`${dir}/cgroup.procs`)} && `),
  ].join('');
  return ['/bin/sh', '-c', `${joins}umask 022 && exec "$@"`, 'sh', ...argv];
}

/**
 * Starts, in the thread pool, a migration of this process into the cgroup2 group it is already in
 * (a no-op), so that the grace-period wait of the kernel's threadgroup lock runs while the caller
 * forks the child that joins a cgroup2 group: a join that comes while it waits shares its grace
 * period, one within a grace period after it waits none. Best effort: resolves once done, never
 * rejects.
 */
export function warmUpCgroup2Join(mount: string): Promise<void> {
  const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined) return Promise.resolve();
  let fd: number;
  try {
    fd = openSync(`${mount}${own === '/' ? '' : own}/cgroup.procs`, constants.O_WRONLY);
  } catch {
    return Promise.resolve();
  }
  // One thread-pool call, queued now (writeFile would queue its write only after the open).
  return new Promise((resolve) => write(fd, String(process.pid), () => close(fd, () => resolve())));
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Pids in a cgroup (not its children); empty if the cgroup is gone. */
export async function cgroupPids(dir: string): Promise<number[]> {
  const text = await readControl(`${dir}/cgroup.procs`);
  if (!text) return [];
  return text.split('\n').map(Number).filter((pid) => pid > 0);
}

export const RELEASE_DEADLINE_MS = 5000;

/** SIGKILLs every pid listed in `dir` now; returns how many were listed. */
export async function killListed(dir: string): Promise<number> {
  const pids = await cgroupPids(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if (!isCode(err, 'ESRCH')) throw err;
    }
  }
  return pids.length;
}

/** Polls until `dir` lists no process; false if some are still there at `deadline`. */
export async function waitEmpty(dir: string, deadline: number): Promise<boolean> {
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    if ((await cgroupPids(dir)).length === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(pause);
  }
}

/** How long a freeze may take: a task in uninterruptible sleep is frozen only once it wakes. */
const FREEZE_DEADLINE_MS = 5000;

/**
 * Polls `isFrozen` until true; after the deadline undoes the freeze with `thaw` and throws, so a
 * group is never left half frozen.
 */
export async function waitFrozen(isFrozen: () => Promise<boolean>, thaw: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + FREEZE_DEADLINE_MS;
  for (let pause = 1; !(await isFrozen()); pause = Math.min(pause * 2, 50)) {
    if (Date.now() > deadline) {
      await thaw();
      throw new Error(`not frozen within ${FREEZE_DEADLINE_MS / 1000} s`);
    }
    await sleep(pause);
  }
}

/**
 * cgroup v1 freezer: FROZEN stops every task of the group where it stands (a forking loop
 * cannot outrun a kill), THAWED lets them run again; resolves once the kernel reports the state.
 */
export async function setFreezerState(dir: string, state: 'FROZEN' | 'THAWED', deadline: number): Promise<void> {
  await writeControl(`${dir}/freezer.state`, state);
  for (let pause = 1; (await readControl(`${dir}/freezer.state`)) !== state; pause = Math.min(pause * 2, 50)) {
    if (Date.now() > deadline) throw new Error(`${dir} did not become ${state}`);
    await sleep(pause);
  }
}

/**
 * SIGKILLs whatever is still in `dir` (`kill` overrides how, e.g. v2's cgroup.kill) and removes
 * it. A missing directory is fine (never created, or released already). A busy one is retried
 * until the killed processes have left; after the deadline the last error is thrown.
 */
export async function removeCgroup(dir: string, kill?: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + RELEASE_DEADLINE_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    const killedByFile = kill ? await kill() : false;
    if (!killedByFile) await killListed(dir);
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return;
      if (!isCode(err, 'EBUSY') || Date.now() > deadline) throw err;
    }
    await sleep(pause);
  }
}

export function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
