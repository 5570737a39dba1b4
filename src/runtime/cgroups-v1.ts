/**
 * One instance's cgroups on cgroup v1, where each controller is its own hierarchy: the group is
 * created in every mounted one it needs (memory for its limit and usage, cpu, pids, cpuacct for
 * CPU time, freezer to kill it whole), plus, where cgroup2 is mounted too and the instance needs
 * one (cgroups.ts), a bare v2 group.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AppliedLimits, ResourceUsage } from './runtime.js';
import type { CgroupSettings } from './cgroups-v2.js';
import {
  cgroupPids, joinCgroupsArgv, killListed, readControl, readCounter, RELEASE_DEADLINE_MS, removeCgroup, setFreezerState, waitEmpty, waitFrozen,
  writeControl, writeControlNow, writeOptionalControl,
} from './cgroup-fs.js';
import type { CgroupV2Group } from './cgroups-v2.js';

export type V1Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer';

/** Controller → where its hierarchy is mounted. */
export type V1Mounts = Readonly<Partial<Record<V1Controller, string>>>;

/** cpu_shares 100 = cpu.shares 1024, the v1 default, so one config means the same on v1 and v2. */
export function v1SharesOf(shares: number): number {
  return Math.min(262144, Math.max(2, Math.round((shares * 1024) / 100)));
}

export class CgroupV1Group implements AppliedLimits {
  /** Controller → this group's directory in that hierarchy. */
  private readonly dirs: Readonly<Partial<Record<V1Controller, string>>>;
  /** The same instance's bare cgroup2 group, if the host mounts cgroup2 beside v1. */
  private readonly v2: CgroupV2Group | undefined;

  private constructor(dirs: Partial<Record<V1Controller, string>>, v2: CgroupV2Group | undefined) {
    this.dirs = dirs;
    this.v2 = v2;
  }

  /**
   * Creates `relPath` in each hierarchy a setting needs (recreating it, and killing a crashed
   * server's leftovers, if it exists), then writes the limits. The caller has checked that the
   * needed controllers are mounted.
   */
  static async create(mounts: V1Mounts, relPath: string, settings: CgroupSettings, v2?: CgroupV2Group): Promise<CgroupV1Group> {
    // With a bare v2 group, it gives CPU time (cpu.stat) and the kill: cpuacct and freezer are not
    // joined (no group more than needed).
    const needed: V1Controller[] = v2 === undefined ? ['memory', 'cpuacct', 'freezer'] : ['memory'];
    if (settings.cpuShares !== undefined) needed.push('cpu');
    if (settings.pidsMax !== undefined) needed.push('pids');
    const dirs: Partial<Record<V1Controller, string>> = {};
    for (const controller of needed) {
      const mount = mounts[controller];
      if (mount !== undefined) dirs[controller] = `${mount}/${relPath}`;
    }
    // The v2 group is new already (the caller made it): only the v1 side may hold leftovers.
    if (Object.values(dirs).some((dir) => existsSync(dir))) await new CgroupV1Group(dirs, undefined).release();
    const group = new CgroupV1Group(dirs, v2);
    try {
      for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
      if (dirs.memory !== undefined && settings.memoryBytes !== undefined) {
        await writeControl(`${dirs.memory}/memory.limit_in_bytes`, String(settings.memoryBytes));
        // memory+swap capped at the same value: going over the limit means an OOM kill, not swap.
        await writeOptionalControl(`${dirs.memory}/memory.memsw.limit_in_bytes`, String(settings.memoryBytes));
      }
      if (dirs.cpu !== undefined && settings.cpuShares !== undefined) {
        await writeControl(`${dirs.cpu}/cpu.shares`, String(v1SharesOf(settings.cpuShares)));
      }
      if (dirs.pids !== undefined && settings.pidsMax !== undefined) {
        await writeControl(`${dirs.pids}/pids.max`, String(settings.pidsMax));
      }
    } catch (err) {
      await group.release();
      throw err;
    }
    return group;
  }

  /** Removes `relPath` from every mounted hierarchy it exists in, killing what is in it. */
  static async remove(mounts: V1Mounts, relPath: string): Promise<void> {
    const dirs: Partial<Record<V1Controller, string>> = {};
    for (const [controller, mount] of Object.entries(mounts) as Array<[V1Controller, string]>) dirs[controller] = `${mount}/${relPath}`;
    await new CgroupV1Group(dirs, undefined).release();
  }

  /**
   * The group a previous server made at `relPath`, in every hierarchy where it exists (as it is:
   * nothing written); undefined if it is gone from all of them.
   */
  static attach(mounts: V1Mounts, relPath: string, v2: CgroupV2Group | undefined): CgroupV1Group | undefined {
    const dirs: Partial<Record<V1Controller, string>> = {};
    for (const [controller, mount] of Object.entries(mounts) as Array<[V1Controller, string]>) {
      if (existsSync(`${mount}/${relPath}`)) dirs[controller] = `${mount}/${relPath}`;
    }
    return Object.keys(dirs).length === 0 && v2 === undefined ? undefined : new CgroupV1Group(dirs, v2);
  }

  /** Whether process `pid` is in this group, in every hierarchy it was made in. */
  async holds(pid: number): Promise<boolean> {
    for (const dir of Object.values(this.dirs)) if (!(await cgroupPids(dir)).includes(pid)) return false;
    return this.v2 === undefined || this.v2.holds(pid);
  }

  wrapArgv(argv: readonly string[]): string[] {
    return joinCgroupsArgv({ v1: Object.values(this.dirs), v2: this.v2 === undefined ? [] : [this.v2.dir] }, argv);
  }

  /**
   * The bare v2 group's cgroup.kill where there is one; else freeze, SIGKILL every task, thaw (a
   * frozen task cannot fork, so nothing escapes between reading the list and the kill).
   */
  async killAll(): Promise<void> {
    if (this.v2 !== undefined) return this.v2.killAll();
    const freezer = this.dirs.freezer;
    const listing = freezer ?? Object.values(this.dirs)[0];
    if (listing === undefined) return;
    const deadline = Date.now() + RELEASE_DEADLINE_MS;
    for (;;) {
      if (freezer === undefined) {
        await killListed(listing);
      } else {
        try {
          await setFreezerState(freezer, 'FROZEN', deadline);
          await killListed(freezer);
        } finally {
          // SIGKILL takes effect once thawed.
          await setFreezerState(freezer, 'THAWED', deadline + RELEASE_DEADLINE_MS).catch(() => undefined);
        }
      }
      if (await waitEmpty(listing, Math.min(deadline, Date.now() + 200)) || Date.now() > deadline) return;
    }
  }

  /**
   * v1 has no memory.events. Since Linux 4.13 memory.oom_control carries an `oom_kill` counter,
   * which is exact: it counts kernel OOM kills inside this group and nothing else. On older
   * kernels the only trace is memory.failcnt (times the limit was hit), which also counts hits
   * the kernel resolved by reclaiming cache, so there it is a best guess.
   */
  async wasOomKilled(): Promise<boolean> {
    if (this.dirs.memory === undefined) return false;
    const kills = await readCounter(`${this.dirs.memory}/memory.oom_control`, 'oom_kill');
    if (kills !== undefined) return kills > 0;
    return ((await readCounter(`${this.dirs.memory}/memory.failcnt`)) ?? 0) > 0;
  }

  async usage(): Promise<ResourceUsage | undefined> {
    const memoryBytes = this.dirs.memory === undefined ? undefined : await readCounter(`${this.dirs.memory}/memory.usage_in_bytes`);
    const cpuSeconds = this.v2 !== undefined
      ? (await this.v2.usage())?.cpuSeconds
      : this.dirs.cpuacct === undefined ? undefined : ((await readCounter(`${this.dirs.cpuacct}/cpuacct.usage`)) ?? 0) / 1e9;
    if (memoryBytes === undefined && cpuSeconds === undefined) return undefined;
    return { memoryBytes, cpuSeconds };
  }

  /** Through the bare v2 group where there is one (cgroup.freeze needs no controller), else the freezer. */
  async freeze(): Promise<void> {
    if (this.v2 !== undefined) return this.v2.freeze();
    const dir = this.freezerDir();
    await writeControl(`${dir}/freezer.state`, 'FROZEN');
    // FREEZING until every task is in the refrigerator.
    await waitFrozen(async () => (await readControl(`${dir}/freezer.state`)) === 'FROZEN', () => this.thaw());
  }

  async thaw(): Promise<void> {
    if (this.v2 !== undefined) return this.v2.thaw();
    writeControlNow(`${this.freezerDir()}/freezer.state`, 'THAWED');
  }

  async isFrozen(): Promise<boolean> {
    if (this.v2 !== undefined) return this.v2.isFrozen();
    const state = this.dirs.freezer === undefined ? undefined : await readControl(`${this.dirs.freezer}/freezer.state`);
    return state === 'FROZEN' || state === 'FREEZING';
  }

  async release(): Promise<void> {
    // A frozen task takes no signal, SIGKILL included, until it is thawed.
    if (this.dirs.freezer !== undefined) await writeOptionalControl(`${this.dirs.freezer}/freezer.state`, 'THAWED');
    await this.killAll().catch(() => undefined);
    for (const dir of Object.values(this.dirs)) await removeCgroup(dir);
    await this.v2?.release();
  }

  private freezerDir(): string {
    if (this.dirs.freezer === undefined) throw new Error('this group was made without the freezer');
    return this.dirs.freezer;
  }
}
