/**
 * One instance's cgroups on cgroup v1, where each controller is its own hierarchy: the group is
 * created in every mounted one it needs (memory, cpu, pids).
 * @module
 */
import { mkdir } from 'node:fs/promises';
import type { AppliedLimits } from './runtime.js';
import type { CgroupSettings } from './cgroups-v2.js';
import { joinCgroupsArgv, readControl, readCounter, removeCgroup, waitFrozen, writeControl, writeControlNow, writeOptionalControl } from './cgroup-fs.js';

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

  private constructor(dirs: Partial<Record<V1Controller, string>>) {
    this.dirs = dirs;
  }

  /**
   * Creates `relPath` in each hierarchy a setting needs (recreating it, and killing a crashed
   * server's leftovers, if it exists), then writes the limits. The caller has checked that the
   * needed controllers are mounted.
   */
  static async create(mounts: V1Mounts, relPath: string, settings: CgroupSettings): Promise<CgroupV1Group> {
    const needed: V1Controller[] = [];
    if (settings.memoryBytes !== undefined) needed.push('memory');
    if (settings.cpuShares !== undefined) needed.push('cpu');
    if (settings.pidsMax !== undefined) needed.push('pids');
    if (settings.freezable === true) needed.push('freezer');
    const dirs: Partial<Record<V1Controller, string>> = {};
    for (const controller of needed) {
      const mount = mounts[controller];
      if (mount !== undefined) dirs[controller] = `${mount}/${relPath}`;
    }
    const group = new CgroupV1Group(dirs);
    await group.release();
    try {
      for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
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
    await new CgroupV1Group(dirs).release();
  }

  wrapArgv(argv: readonly string[]): string[] {
    return joinCgroupsArgv(Object.values(this.dirs).map((dir) => `${dir}/cgroup.procs`), argv);
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

  async freeze(): Promise<void> {
    const dir = this.freezerDir();
    await writeControl(`${dir}/freezer.state`, 'FROZEN');
    // FREEZING until every task is in the refrigerator.
    await waitFrozen(async () => (await readControl(`${dir}/freezer.state`)) === 'FROZEN', () => this.thaw());
  }

  async thaw(): Promise<void> {
    writeControlNow(`${this.freezerDir()}/freezer.state`, 'THAWED');
  }

  async release(): Promise<void> {
    // A frozen task takes no signal, SIGKILL included, until it is thawed.
    if (this.dirs.freezer !== undefined) await writeOptionalControl(`${this.dirs.freezer}/freezer.state`, 'THAWED');
    for (const dir of Object.values(this.dirs)) await removeCgroup(dir);
  }

  private freezerDir(): string {
    if (this.dirs.freezer === undefined) throw new Error('this group was made without the freezer');
    return this.dirs.freezer;
  }
}
