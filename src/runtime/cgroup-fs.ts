/**
 * Small cgroupfs primitives shared by the v1 and v2 drivers: read a counter, join a cgroup before
 * exec, kill what is left in a cgroup and remove it, tolerating a half-made setup.
 * @module
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { readFile, rmdir, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** The whole file, trimmed; undefined if it does not exist (controller absent, cgroup gone). */
export async function readControl(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENODEV')) return undefined;
    throw err;
  }
}

/** Writes a control file; never creates one (a missing file means the kernel lacks it). */
export async function writeControl(file: string, value: string): Promise<void> {
  await writeFile(file, value, { flag: constants.O_WRONLY });
}

/**
 * writeControl without the thread-pool round trip: for the one write a waiting request depends on
 * (a thaw). A cgroupfs write is a short in-kernel call, not disk I/O.
 */
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
 * argv that writes its own pid into every `cgroup.procs` file, then execs `argv`: the process is in
 * its cgroups before the app's first instruction, so nothing it forks can escape the limits.
 */
export function joinCgroupsArgv(procsFiles: readonly string[], argv: readonly string[]): string[] {
  const joins = procsFiles.map((file) => `echo $$ > ${shellQuote(file)}`).join(' && ');
  return ['/bin/sh', '-c', `${joins} && exec "$@"`, 'sh', ...argv];
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

const RELEASE_DEADLINE_MS = 5000;

/**
 * SIGKILLs whatever is still in `dir` (`kill` overrides how, e.g. v2's cgroup.kill) and removes
 * it. A missing directory is fine (never created, or released already). A busy one is retried
 * until the killed processes have left; after the deadline the last error is thrown.
 */
export async function removeCgroup(dir: string, kill?: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + RELEASE_DEADLINE_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    const killedByFile = kill ? await kill() : false;
    if (!killedByFile) {
      for (const pid of await cgroupPids(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          if (!isCode(err, 'ESRCH')) throw err;
        }
      }
    }
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
