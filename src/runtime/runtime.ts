/**
 * The runtime contract: start and stop ONE instance's process group at one isolation level.
 * A runtime knows nothing of lifecycle states; the supervisor does.
 * @module
 */
import type { Isolation } from '../config/types.js';

export type OutputStream = 'stdout' | 'stderr';

/** A host user an instance runs as (gid = its primary group; supplementary groups are cleared). */
export interface TenantUser {
  readonly uid: number;
  readonly gid: number;
}

export interface SpawnSpec {
  /** `service:id`, for messages and cgroup/bundle names. */
  readonly instance: string;
  readonly service: string;
  readonly id: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  /** Full environment of the child (PORT, HOST, DATA_DIR, TENEMENT_INSTANCE and the service env). */
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  /** Absolute, already created. */
  readonly dataDir: string;
  readonly memoryLimitMb: number | undefined;
  readonly cpuShares: number | undefined;
  /** The instance will be frozen when idle (freeze_after > 0): it needs a cgroup that can freeze. */
  readonly freezable?: boolean;
  /** Most tasks the instance may have at once; undefined = the provider's default (512). */
  readonly pidsLimit?: number | undefined;
  /** Who the app runs as; undefined = the server's own user. Privileges are dropped either way. */
  readonly user?: TenantUser | undefined;
  /** Called once per complete output line (without the newline). Must not throw. */
  readonly onLine: (stream: OutputStream, line: string) => void;
  /**
   * Files the process writes its stdout and stderr to instead of pipes (fds, opened for append by
   * the caller, who reads them): output that outlives this server. onLine is not called then.
   */
  readonly outputFds?: { readonly stdout: number; readonly stderr: number };
}

/** What a spec asks of cgroups. */
export type LimitRequest = Pick<SpawnSpec, 'memoryLimitMb' | 'cpuShares' | 'freezable' | 'pidsLimit'>;

/** What an instance's cgroup is made for. */
export type GroupRequest = Pick<SpawnSpec, 'instance'> & LimitRequest & {
  /**
   * Every socket of the instance belongs to a uid that is not tenement's (its own user, without
   * a sandbox in between), so the port fence tells it apart by uid and needs no cgroup2 group.
   */
  readonly tenantOwnsSockets?: boolean;
};

/** What an instance uses now, from its cgroup; a field is undefined where the host cannot tell. */
export interface ResourceUsage {
  readonly memoryBytes: number | undefined;
  readonly cpuSeconds: number | undefined;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The kernel killed it for exceeding its memory limit. */
  readonly oomKilled: boolean;
}

/** How an exit reads in events and errors: "exited with code 3", "was killed by SIGKILL". */
export function describeExit(info: ExitInfo): string {
  if (info.oomKilled) return 'was killed for exceeding its memory limit (OOM)';
  if (info.signal !== null) return `was killed by ${info.signal}`;
  // An adopted process's status went to its real parent, the previous server.
  if (info.code === null) return 'exited';
  return `exited with code ${info.code}`;
}

/** What a previous server left in the store, to find its processes after a crash. */
export interface ProcessIdentity {
  readonly pid: number;
  /** Kernel start time of the process (clock ticks since boot, /proc/PID/stat field 22). */
  readonly startTime: number;
}

export interface Orphan extends ProcessIdentity {
  /** `service:id` it belonged to (sandbox containers are named after it). */
  readonly instance: string;
}

export interface RunningProcess extends ProcessIdentity {
  /** Resolves once when the process (group leader) has exited and its output is drained. */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM to the whole group, SIGKILL after `timeoutMs`; resolves when all of it is gone. */
  stop(timeoutMs: number): Promise<ExitInfo>;
  /** The cgroup it runs in (every instance has one where the host gives cgroups). */
  readonly cgroup?: AppliedLimits;
}

export interface Runtime {
  readonly isolation: Isolation;
  /** Throws `isolation_unavailable` (saying what is missing and how to get it) if the host can't. */
  check(spec: LimitRequest): Promise<void>;
  /** Starts the process; throws `spawn_failed` after releasing whatever it had acquired. */
  start(spec: SpawnSpec): Promise<RunningProcess>;
  /**
   * Stops a process group left by a crashed server, if `identity` still names it (same pid AND
   * same start time); never signals a reused pid. Resolves true if something was stopped.
   */
  reap(orphan: Orphan, timeoutMs: number): Promise<boolean>;
  /**
   * Takes over a process group a previous server left running, to watch, limit, freeze and stop
   * it as if started here (its cgroup re-attached), if the record still names it: same pid, same
   * start time, leader of its own process group, and in the instance's cgroup. Else says why not.
   */
  adopt(orphan: Orphan): Promise<Adoption>;
}

/** A previous server's process taken over; `frozen`: its cgroup was left frozen (a request thaws it). */
export interface AdoptedProcess {
  readonly proc: RunningProcess;
  readonly frozen: boolean;
}

/** What adopting a previous server's process found; refused (gone, a reused pid, out of its cgroup...): why, for the log. */
export type Adoption = AdoptedProcess | { readonly refused: string };

/** A previous server's cgroup of an instance, found again (LimitsProvider.reattach). */
export type Reattached = { readonly cgroup: AppliedLimits | undefined } | { readonly refused: string };

/** One instance's cgroup (limits or not); see runtime/cgroups.ts. */
export interface AppliedLimits {
  /** The argv to exec so the process starts inside the group (joins it first). */
  wrapArgv(argv: readonly string[]): string[];
  /**
   * SIGKILLs every process in the group, also those that left the process group (setsid), and
   * resolves once it is empty (or after a bounded wait for unkillable ones).
   */
  killAll(): Promise<void>;
  /** Memory and CPU time used by the group now, for metrics; undefined if unknown. */
  usage(): Promise<ResourceUsage | undefined>;
  /** After exit: whether the kernel OOM-killed something in it. */
  wasOomKilled(): Promise<boolean>;
  /** Stops every process in the group from running (memory kept); resolves once all are frozen. */
  freeze(): Promise<void>;
  /** Lets a frozen group run again. */
  thaw(): Promise<void>;
  /** Whether the group is frozen, or a freeze was asked for and is under way. */
  isFrozen(): Promise<boolean>;
  /** Removes the cgroup (thawing it first); safe to call twice and after a half-finished setup. */
  release(): Promise<void>;
}

/** Makes the limits of a spec real, or refuses with `isolation_unavailable`. */
export interface LimitsProvider {
  /** Throws `isolation_unavailable` if a limit the spec asks for cannot be given on this host. */
  check?(spec: LimitRequest): Promise<void>;
  /** Thaws what a crashed server left frozen in `instance`'s group, so a stop's signals reach it. */
  thawLeftover?(instance: string): Promise<void>;
  /** Kills what is left in `instance`'s group (a crashed server's) and removes it. */
  removeLeftover?(instance: string): Promise<void>;
  /**
   * `instance`'s group as a previous server made it, if `pid` is in it: watched from now on as if
   * made here. `cgroup` undefined: this host gives no groups. Refused: the group is gone or
   * `pid` is not in it (never adopt, nor signal, a process outside its instance's group).
   */
  reattach?(instance: string, pid: number): Promise<Reattached>;
  /** The instance's group; undefined only where the host has no usable cgroups at all. */
  apply(spec: GroupRequest): Promise<AppliedLimits | undefined>;
}
