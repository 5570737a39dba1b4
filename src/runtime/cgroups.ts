/**
 * Resource limits through cgroups: finds which cgroup version and controllers this host offers,
 * and gives every instance its own `<parent>/<service>.<id>` group (limits or not: a stop kills
 * the whole group, and its usage feeds the metrics), or refuses a limit clearly.
 * @module
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir } from 'node:fs/promises';
import { TenementError } from '../core/errors.js';
import { parseInstanceName } from '../core/names.js';
import type { AppliedLimits, GroupRequest, LimitRequest, LimitsProvider, Reattached } from './runtime.js';
import { isCode, readControl, warmUpCgroup2Join, writeOptionalControl } from './cgroup-fs.js';
import { CgroupV1Group, type V1Controller, type V1Mounts } from './cgroups-v1.js';
import { CgroupV2Group, prepareV2Parent, v2Controllers, type CgroupController } from './cgroups-v2.js';

export type { CgroupController } from './cgroups-v2.js';

export interface CgroupHost {
  readonly version: 'v2' | 'v1' | null;
  /** Controllers tenement can use to limit instances. */
  readonly controllers: ReadonlySet<CgroupController>;
  /** For each controller it cannot use: why, and how to get it. */
  readonly missing: Readonly<Partial<Record<CgroupController, string>>>;
  /**
   * The cgroup2 hierarchy (or delegated subtree) instance groups go under: with the controllers
   * (version v2), or bare beside the v1 ones (cgroup.kill, and sockets matched by the port fence).
   */
  readonly v2Root?: string;
  /** Where that cgroup2 hierarchy is mounted (v2Root is it or below it). */
  readonly v2Mount?: string;
  /** v1: where each controller's hierarchy is mounted. */
  readonly v1Mounts?: V1Mounts;
  /** Why instances cannot be frozen here (freeze_after); undefined when they can. */
  readonly freezeMissing?: string;
}

export interface CgroupOptions {
  /**
   * Where to look instead of the host's mounts: a cgroup2 directory (a mount, or a subtree
   * delegated to tenement), or a directory under which v1 controller hierarchies are mounted.
   */
  readonly root?: string;
  /** The group instance groups are created in; default `tenement`. */
  readonly parent?: string;
}

const CONTROLLERS: readonly CgroupController[] = ['memory', 'cpu', 'pids'];
const V1_CONTROLLERS: readonly V1Controller[] = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];
/** Tasks (processes and threads) an instance may have when its service sets no pids_limit. */
export const DEFAULT_PIDS_LIMIT = 512;

/**
 * v2 wins when its hierarchy offers a controller and tenement can delegate it (create its parent
 * group and enable subtree_control); otherwise v1 controllers mounted separately are used.
 */
export async function detectCgroups(options: CgroupOptions = {}): Promise<CgroupHost> {
  const parent = options.parent ?? 'tenement';
  const mounts = await cgroupMounts();
  let v2Root: string | undefined;
  let v1Mounts: V1Mounts = {};
  if (options.root !== undefined) {
    const root = options.root.replace(/\/+$/, '');
    if ((await readControl(`${root}/cgroup.controllers`)) !== undefined) v2Root = root;
    else v1Mounts = pickV1(mounts.v1.filter((m) => m.dir === root || m.dir.startsWith(`${root}/`)));
  } else {
    v2Root = await pickV2(mounts.v2);
    v1Mounts = pickV1(mounts.v1);
  }
  const v2Mount = v2Root === undefined
    ? undefined
    : mounts.v2.map((m) => m.dir).filter((dir) => v2Root === dir || v2Root!.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length)[0] ?? v2Root;

  let v2Problem: string | undefined;
  if (v2Root !== undefined) {
    const offered = await v2Controllers(v2Root);
    if (offered.size > 0) {
      try {
        await prepareV2Parent(v2Root, parent, offered);
        return { version: 'v2', controllers: offered, missing: missingFrom(offered, v2Absent), v2Root, v2Mount, ...(await v2FreezeMissing(v2Root, parent)) };
      } catch (err) {
        v2Problem = isPermission(err)
          ? 'tenement may not create cgroups: run ten serve as root'
          : `its cgroup2 hierarchy cannot hand controllers to tenement's group (${errorCode(err)}; the top group must hold no processes)`;
      }
    }
  }

  const v1Usable = new Set<CgroupController>();
  let v1Problem: string | undefined;
  for (const controller of CONTROLLERS) {
    const dir = v1Mounts[controller];
    if (dir === undefined) continue;
    if (await isWritable(dir)) v1Usable.add(controller);
    else v1Problem = 'tenement may not create cgroups: run ten serve as root';
  }
  const bareV2 = v2Root !== undefined && (await prepareV2Parent(v2Root, parent, new Set()).then(() => true, () => false));
  if (v1Usable.size > 0 || (v2Root === undefined && Object.keys(v1Mounts).length > 0)) {
    return {
      version: 'v1',
      controllers: v1Usable,
      missing: missingFrom(v1Usable, (c) => v1Problem ?? v1Absent(c)),
      v1Mounts,
      // A bare v2 group freezes through cgroup.freeze; without one, the v1 freezer does.
      ...(bareV2 ? { v2Root, v2Mount, ...(await v2FreezeMissing(v2Root!, parent)) } : await v1FreezeMissing(v1Mounts)),
    };
  }
  if (v2Root !== undefined) {
    return {
      version: 'v2', controllers: new Set(), missing: missingFrom(new Set(), () => v2Problem ?? v2Absent()),
      ...(bareV2 ? { v2Root, v2Mount } : {}), ...(await v2FreezeMissing(v2Root, parent)),
    };
  }
  const none = 'no cgroup filesystem is mounted; mount cgroup2 at /sys/fs/cgroup';
  return { version: null, controllers: new Set(), missing: missingFrom(new Set(), () => none), freezeMissing: none };
}

/** Gives every instance its cgroup and makes its limits real (LimitsProvider for every runtime). */
export class CgroupLimits implements LimitsProvider {
  private readonly options: CgroupOptions;
  private host: Promise<CgroupHost> | undefined;

  constructor(options: CgroupOptions = {}) {
    this.options = options;
  }

  /** The group instance groups go under, e.g. `tenement.1a2b3c4d`. */
  get parent(): string {
    return this.options.parent ?? 'tenement';
  }

  /** What this host offers; detected once. */
  detect(): Promise<CgroupHost> {
    this.host ??= detectCgroups(this.options);
    return this.host;
  }

  /** Thaws what a crashed server left frozen in `instance`'s group, so a stop's signals reach it. */
  async thawLeftover(instance: string): Promise<void> {
    const host = await this.detect();
    const relPath = this.relPath(instance);
    if (host.v2Root !== undefined) await writeOptionalControl(`${host.v2Root}/${relPath}/cgroup.freeze`, '0');
    if (host.v1Mounts?.freezer !== undefined) await writeOptionalControl(`${host.v1Mounts.freezer}/${relPath}/freezer.state`, 'THAWED');
  }

  /**
   * Kills what a crashed server left in `instance`'s group and removes it: what left the process
   * group with setsid survives the orphan reaper, not this. The v2 group first: on a hybrid host
   * its cgroup.kill takes everything at once.
   */
  async removeLeftover(instance: string): Promise<void> {
    const host = await this.detect();
    const relPath = this.relPath(instance);
    if (host.v2Root !== undefined) await CgroupV2Group.remove(`${host.v2Root}/${relPath}`);
    if (host.version === 'v1') await CgroupV1Group.remove(host.v1Mounts ?? {}, relPath);
  }

  async reattach(instance: string, pid: number): Promise<Reattached> {
    const host = await this.detect();
    if (!(await this.givesGroups())) return { cgroup: undefined };
    const relPath = this.relPath(instance);
    const v2 = host.v2Root === undefined ? undefined : CgroupV2Group.attach(`${host.v2Root}/${relPath}`);
    const group = host.version === 'v2' ? v2 : CgroupV1Group.attach(host.v1Mounts ?? {}, relPath, v2);
    if (group === undefined) return { refused: 'its cgroup is gone' };
    if (!(await group.holds(pid))) return { refused: `pid ${pid} is no longer in its cgroup` };
    return { cgroup: group };
  }

  /** Removes the (by now empty) parent group from every hierarchy, at a clean exit; never throws. */
  async removeParent(): Promise<void> {
    if (this.host === undefined) return;
    const host = await this.host;
    for (const root of [...Object.values(host.v1Mounts ?? {}), ...(host.v2Root === undefined ? [] : [host.v2Root])]) {
      await rmdir(`${root}/${this.parent}`).catch(() => undefined);
    }
  }

  /** Whether instances get a cgroup each here (tenement may create groups in some hierarchy). */
  async givesGroups(): Promise<boolean> {
    const host = await this.detect();
    return host.v2Root !== undefined || (host.version === 'v1' && host.controllers.size > 0);
  }

  /** Throws `isolation_unavailable` naming the first requested limit the host cannot enforce. */
  async check(spec: LimitRequest): Promise<void> {
    const host = await this.detect();
    if (spec.freezable === true && host.freezeMissing !== undefined) {
      throw new TenementError('isolation_unavailable', `freeze_after needs a cgroup freezer, which this host does not offer (${host.freezeMissing})`);
    }
    if (spec.memoryLimitMb !== undefined && !host.controllers.has('memory')) {
      throw unavailable('memory_limit_mb', 'memory', host);
    }
    if (spec.cpuShares !== undefined && !host.controllers.has('cpu')) {
      throw unavailable('cpu_shares', 'cpu', host);
    }
    if (spec.pidsLimit !== undefined && !host.controllers.has('pids')) {
      throw unavailable('pids_limit', 'pids', host);
    }
  }

  async apply(spec: GroupRequest): Promise<AppliedLimits | undefined> {
    await this.check(spec);
    const host = await this.detect();
    if (!(await this.givesGroups())) return undefined;
    const relPath = this.relPath(spec.instance);
    const settings = {
      memoryBytes: spec.memoryLimitMb === undefined ? undefined : Math.round(spec.memoryLimitMb * 1024 * 1024),
      cpuShares: spec.cpuShares,
      pidsMax: host.controllers.has('pids') ? spec.pidsLimit ?? DEFAULT_PIDS_LIMIT : undefined,
      freezable: spec.freezable,
    };
    try {
      if (host.version === 'v2') return warmedUp(host, await CgroupV2Group.create(`${host.v2Root}/${relPath}`, settings));
      const bare = needsBareV2(host, spec) ? await CgroupV2Group.create(`${host.v2Root}/${relPath}`, {}) : undefined;
      const group = await CgroupV1Group.create(host.v1Mounts ?? {}, relPath, settings, bare);
      return bare === undefined ? group : warmedUp(host, group);
    } catch (err) {
      if (isPermission(err)) {
        throw new TenementError('isolation_unavailable', 'instance cgroups need permission to create cgroups, which tenement lacks (run ten serve as root)', { cause: err });
      }
      throw new TenementError('spawn_failed', `could not set up the cgroup of ${spec.instance} (${errorCode(err)})`, { cause: err });
    }
  }

  /** The instance's group under the parent; names are DNS labels (no '.'), so `service.id` cannot collide. */
  private relPath(instance: string): string {
    const { service, id } = parseInstanceName(instance);
    return `${this.parent}/${service}.${id}`;
  }
}

/**
 * On a v1 host, whether the instance's group needs a bare cgroup2 twin. The port fence matches a
 * sandbox's sockets (owned by gVisor, as root) or an app running as tenement's own uid only by
 * it; without the v1 freezer and cpuacct it also gives the kill, freezing and CPU time. Else it is
 * left out: joining a cgroup2 group waits an RCU grace period, v1 joins do not (joinCgroupsArgv).
 */
function needsBareV2(host: CgroupHost, spec: GroupRequest): host is CgroupHost & { v2Root: string } {
  if (host.v2Root === undefined) return false;
  return spec.tenantOwnsSockets !== true || host.v1Mounts?.freezer === undefined || host.v1Mounts.cpuacct === undefined;
}

/**
 * `group`, with a warm-up of the child's cgroup2 join under way (warmUpCgroup2Join), which saves
 * part of its wait. Started once the group is made: the warm-up holds the cgroup mutex that mkdir
 * needs while it waits.
 */
function warmedUp<T>(host: CgroupHost, group: T): T {
  if (host.v2Mount !== undefined) void warmUpCgroup2Join(host.v2Mount);
  return group;
}

/** v2 groups freeze through cgroup.freeze (Linux 5.2+), which every non-root group then has. */
async function v2FreezeMissing(root: string, parent: string): Promise<{ freezeMissing?: string }> {
  try {
    await mkdir(`${root}/${parent}`, { recursive: true });
  } catch (err) {
    return { freezeMissing: isPermission(err) ? 'tenement may not create cgroups: run ten serve as root' : `its cgroup2 group cannot be made (${errorCode(err)})` };
  }
  if ((await readControl(`${root}/${parent}/cgroup.freeze`)) !== undefined) return {};
  return { freezeMissing: 'its cgroup2 hierarchy has no cgroup.freeze (Linux 5.2 or later has it)' };
}

async function v1FreezeMissing(mounts: V1Mounts): Promise<{ freezeMissing?: string }> {
  if (mounts.freezer === undefined) {
    return { freezeMissing: 'no cgroup v1 freezer hierarchy is mounted; mount it (mount -t cgroup -o freezer cgroup /sys/fs/cgroup/freezer) or boot with cgroup v2' };
  }
  return (await isWritable(mounts.freezer)) ? {} : { freezeMissing: 'tenement may not create cgroups: run ten serve as root' };
}

function unavailable(key: string, controller: CgroupController, host: CgroupHost): TenementError {
  const why = host.missing[controller] ?? 'unknown reason';
  return new TenementError('isolation_unavailable', `${key} needs the cgroup ${controller} controller, which this host does not offer (${why})`);
}

function missingFrom(usable: ReadonlySet<CgroupController>, why: (c: CgroupController) => string): Partial<Record<CgroupController, string>> {
  const missing: Partial<Record<CgroupController, string>> = {};
  for (const controller of CONTROLLERS) if (!usable.has(controller)) missing[controller] = why(controller);
  return missing;
}

function v2Absent(): string {
  return 'its cgroup2 hierarchy does not list it in cgroup.controllers, so it is bound to cgroup v1 or disabled; boot with systemd.unified_cgroup_hierarchy=1 and without cgroup_disable';
}

function v1Absent(controller: CgroupController): string {
  return `no cgroup v1 ${controller} hierarchy is mounted and no cgroup2 hierarchy offers it; mount it (mount -t cgroup -o ${controller} cgroup /sys/fs/cgroup/${controller}) or boot with cgroup v2`;
}

interface Mount {
  readonly dir: string;
  readonly options: readonly string[];
}

async function cgroupMounts(): Promise<{ v2: Mount[]; v1: Mount[] }> {
  const v2: Mount[] = [];
  const v1: Mount[] = [];
  for (const line of (await readFile('/proc/self/mounts', 'utf8')).split('\n')) {
    const [, dir, type, options] = line.split(' ');
    if (dir === undefined || options === undefined) continue;
    // /proc/self/mounts escapes space, tab, newline and backslash in octal.
    const mount = { dir: dir.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), options: options.split(',') };
    if (type === 'cgroup2') v2.push(mount);
    else if (type === 'cgroup') v1.push(mount);
  }
  return { v2, v1 };
}

/** The first cgroup2 mount offering a controller tenement uses, else the first at all. */
async function pickV2(mounts: readonly Mount[]): Promise<string | undefined> {
  for (const mount of mounts) if ((await v2Controllers(mount.dir)).size > 0) return mount.dir;
  return mounts[0]?.dir;
}

function pickV1(mounts: readonly Mount[]): V1Mounts {
  const picked: Partial<Record<V1Controller, string>> = {};
  for (const mount of mounts) {
    for (const controller of V1_CONTROLLERS) {
      if (mount.options.includes(controller)) picked[controller] ??= mount.dir;
    }
  }
  return picked;
}

async function isWritable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isPermission(err: unknown): boolean {
  return isCode(err, 'EACCES') || isCode(err, 'EPERM') || isCode(err, 'EROFS');
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : 'error';
}
