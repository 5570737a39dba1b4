/**
 * The `process` isolation level: each instance runs as its own process group and cgroup, as its
 * tenant user without privileges, and stopping it (or its leader exiting) takes the whole group
 * and cgroup down. startProcessGroup is shared with the namespace and sandbox runtimes, which
 * spawn a wrapped argv the same way.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { TenementError } from '../core/errors.js';
import { adoptProcessGroup, checkOrphan } from './adopt.js';
import { joinCgroupsArgv } from './cgroup-fs.js';
import { readLines } from './line-splitter.js';
import { checkLimits } from './preflight.js';
import { dropPrivilegesArgv, findSetpriv, hasOwnUid } from './privileges.js';
import { emptyGroup, groupStopper, isGroupRunning, signalGroup } from './process-group.js';
import { readStartTime } from './proc-stat.js';
import type {
  Adoption,
  AppliedLimits,
  ExitInfo,
  LimitRequest,
  LimitsProvider,
  Orphan,
  RunningProcess,
  Runtime,
  SpawnSpec,
} from './runtime.js';

/**
 * How long output is drained after the group is gone. Only a process that left the group
 * (setsid) can still hold the pipes, and it must not keep `exited` pending.
 */
const DRAIN_CAP_MS = 1000;
/** Where execvp looks when the child's env has no PATH (as Node documents for spawn). */
const DEFAULT_PATH = '/usr/bin:/bin';

export interface StartProcessGroupOptions {
  /** What to exec instead of spec.argv, e.g. `unshare ... -- argv` (limits still wrap it). */
  readonly argv?: readonly string[];
  /** Cgroup limits the process starts inside; ExitInfo.oomKilled is read from them. */
  readonly limits?: AppliedLimits;
  /**
   * Runs once when the process is gone (after the group is emptied and output drained) or
   * failed to start: release what the caller acquired for it. Its failure is not the caller's.
   */
  readonly onExit?: () => Promise<void>;
}

export class ProcessRuntime implements Runtime {
  readonly isolation = 'process' as const;
  readonly #limits: LimitsProvider | undefined;

  constructor(options: { limits?: LimitsProvider } = {}) {
    this.#limits = options.limits;
  }

  async check(spec: LimitRequest): Promise<void> {
    await findSetpriv();
    await checkLimits(this.#limits, spec);
  }

  async start(spec: SpawnSpec): Promise<RunningProcess> {
    await this.check(spec);
    const setpriv = await findSetpriv();
    const limits = await this.#limits?.apply({ ...spec, tenantOwnsSockets: hasOwnUid(spec.user) });
    return startProcessGroup(spec, {
      argv: [...dropPrivilegesArgv(setpriv, spec.user), ...spec.argv],
      ...(limits === undefined ? {} : { limits, onExit: () => limits.release() }),
    });
  }

  async reap(orphan: Orphan, timeoutMs: number): Promise<boolean> {
    return reapOrphan(orphan, timeoutMs, this.#limits);
  }

  adopt(orphan: Orphan): Promise<Adoption> {
    return adoptProcessGroup(orphan, this.#limits);
  }
}

/**
 * Stops what a crashed server left of an instance: its process group, if the record still names
 * it, gracefully; then whatever escaped the group but not the instance's cgroup.
 */
export async function reapOrphan(orphan: Orphan, timeoutMs: number, limits: LimitsProvider | undefined): Promise<boolean> {
  // A frozen orphan takes no signal: thawed first, so the stop below is the graceful one.
  await limits?.thawLeftover?.(orphan.instance).catch(() => undefined);
  const stoppedGroup = await reapGroup(orphan, timeoutMs, limits);
  // After the graceful stop of the group: whatever escaped it is still in the instance's cgroup.
  await limits?.removeLeftover?.(orphan.instance).catch(() => undefined);
  return stoppedGroup;
}

/** SIGTERM (then SIGKILL) to the orphan's process group, if it is still the one recorded. */
async function reapGroup(orphan: Orphan, timeoutMs: number, limits: LimitsProvider | undefined): Promise<boolean> {
  // kill(-0) is our own group and kill(-1) everyone: a corrupt record must never get there.
  if (!Number.isInteger(orphan.pid) || orphan.pid <= 1) return false;
  const startTime = readStartTime(orphan.pid);
  // A different start time means the pid was reused by someone else: touch nothing. With the
  // pid gone, a group still named after it is ours: Linux does not reuse a live pgid as a pid.
  if (startTime !== undefined && startTime !== orphan.startTime) return false;
  // Alive but no longer our instance's leader: its group is not ours to signal.
  if (startTime !== undefined && 'refused' in (await checkOrphan(orphan, limits))) return false;
  if (!isGroupRunning(orphan.pid)) return false;
  signalGroup(orphan.pid, 'SIGTERM');
  await emptyGroup(orphan.pid, Date.now() + timeoutMs);
  return true;
}

/** Spawns `spec` as the leader of a new process group and watches it until the group is gone. */
export async function startProcessGroup(spec: SpawnSpec, options: StartProcessGroupOptions = {}): Promise<RunningProcess> {
  const { limits, onExit } = options;
  const baseArgv = options.argv ?? spec.argv;
  const argv = limits === undefined ? joinCgroupsArgv({}, baseArgv) : limits.wrapArgv(baseArgv);
  let child: ChildProcess;
  try {
    await checkCanSpawn(spec);
    child = await spawnLeader(spec, argv);
  } catch (err) {
    await runQuietly(onExit);
    throw err;
  }
  return watchGroup(spec, child, { limits, onExit });
}

async function spawnLeader(spec: SpawnSpec, argv: readonly string[]): Promise<ChildProcess> {
  const [command, ...args] = argv;
  if (command === undefined) throw new TenementError('spawn_failed', `cannot start ${spec.instance}: the command is empty`);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: spec.cwd,
      env: { ...spec.env },
      // setsid(): a new session and process group whose id is the child's pid.
      detached: true,
      stdio: spec.outputFds === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', spec.outputFds.stdout, spec.outputFds.stderr],
    });
  } catch (err) {
    throw spawnError(spec, command, err);
  }
  if (child.pid === undefined) {
    // Spawn failures such as ENOENT are reported on the next tick, not thrown.
    const err = await new Promise((resolve) => child.once('error', resolve));
    throw spawnError(spec, command, err);
  }
  return child;
}

function watchGroup(
  spec: SpawnSpec,
  child: ChildProcess,
  { limits, onExit }: Pick<StartProcessGroupOptions, 'limits' | 'onExit'>,
): RunningProcess {
  const pid = child.pid!;
  // Read now: the leader cannot be reaped before this tick ends, so /proc/PID is still there.
  const startTime = readStartTime(pid) ?? 0;
  // Errors after a successful spawn (a failed kill) carry nothing the exit event does not.
  child.on('error', () => undefined);
  const output = spec.outputFds !== undefined ? [] : [
    readLines(child.stdout!, (line) => spec.onLine('stdout', line)),
    readLines(child.stderr!, (line) => spec.onLine('stderr', line)),
  ];
  let isLeaderGone = false;
  const leaderExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      isLeaderGone = true;
      resolve({ code, signal });
    });
  });
  const group = groupStopper<ExitInfo>(pid, () => isLeaderGone);

  const exited = (async (): Promise<ExitInfo> => {
    const { code, signal } = await leaderExit;
    // Stopping: the rest of the group gets the rest of the stop timeout. Leader exited on its
    // own: nothing coordinates its children any more, so they go at once.
    await emptyGroup(pid, group.killAt() ?? Date.now());
    // Whatever left the process group (setsid) is still in the cgroup: it goes too.
    await limits?.killAll().catch(() => undefined);
    await drain(output, child);
    const oomKilled = await readOomKilled(limits);
    await runQuietly(onExit);
    return { code, signal, oomKilled };
  })();

  const stop = (timeoutMs: number): Promise<ExitInfo> => group.stop(exited, timeoutMs);

  return { pid, startTime, exited, stop, ...(limits === undefined ? {} : { cgroup: limits }) };
}


async function drain(output: Promise<void>[], child: ChildProcess): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const capped = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, DRAIN_CAP_MS);
  });
  await Promise.race([Promise.all(output), capped]);
  clearTimeout(timer);
  child.stdout?.destroy();
  child.stderr?.destroy();
  await Promise.all(output);
}

/** Refuses a missing workdir or command before anything runs, whatever wraps the argv. */
async function checkCanSpawn(spec: SpawnSpec): Promise<void> {
  const isDirectory = await stat(spec.cwd).then((s) => s.isDirectory(), () => false);
  if (!isDirectory) throw new TenementError('spawn_failed', `cannot start ${spec.instance}: workdir does not exist`);
  const command = spec.argv[0];
  if (command === undefined) throw new TenementError('spawn_failed', `cannot start ${spec.instance}: the command is empty`);
  const candidates = command.includes('/')
    ? [resolve(spec.cwd, command)]
    : (spec.env.PATH ?? DEFAULT_PATH).split(delimiter).map((dir) => join(resolve(spec.cwd, dir), command));
  for (const candidate of candidates) {
    if (await isExecutableFile(candidate)) return;
  }
  throw new TenementError('spawn_failed', `cannot start ${spec.instance}: command "${command}" not found`);
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function spawnError(spec: SpawnSpec, command: string, err: unknown): TenementError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === 'ENOENT'
    ? `command "${command}" not found`
    : code === 'EACCES'
      ? `command "${command}" is not executable`
      : `the command "${command}" could not be run (${code ?? 'invalid arguments'})`;
  return new TenementError('spawn_failed', `cannot start ${spec.instance}: ${reason}`, { cause: err });
}

async function readOomKilled(limits: AppliedLimits | undefined): Promise<boolean> {
  try {
    return (await limits?.wasOomKilled()) ?? false;
  } catch {
    return false;
  }
}

async function runQuietly(task: (() => Promise<void>) | undefined): Promise<void> {
  try {
    await task?.();
  } catch {
    // Cleanup after a process is a best effort; its owner's release must cope with leftovers.
  }
}
