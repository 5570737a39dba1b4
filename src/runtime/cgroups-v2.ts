/**
 * One instance's cgroup on a cgroup v2 (unified) hierarchy: memory.max, cpu.weight, pids.max;
 * OOM kills read from memory.events; leftovers killed with cgroup.kill. On a v1 host the same
 * class makes a bare group (no controllers) that still gives cgroup.kill and socket matching.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AppliedLimits, ResourceUsage } from './runtime.js';
import {
  cgroupPids, joinCgroupsArgv, killListed, readControl, readCounter, RELEASE_DEADLINE_MS, removeCgroup, waitEmpty, waitFrozen, writeControl,
  writeControlNow, writeOptionalControl,
} from './cgroup-fs.js';

export type CgroupController = 'memory' | 'cpu' | 'pids';

export interface CgroupSettings {
  readonly memoryBytes?: number | undefined;
  /** Relative CPU weight where 100 is the default share (cpu_shares as configured). */
  readonly cpuShares?: number | undefined;
  readonly pidsMax?: number | undefined;
  /** v1 only: also join the freezer hierarchy (v2 groups can always freeze). */
  readonly freezable?: boolean | undefined;
}

/** The v2 controllers a hierarchy offers (among those tenement uses). */
export async function v2Controllers(root: string): Promise<Set<CgroupController>> {
  const text = (await readControl(`${root}/cgroup.controllers`)) ?? '';
  const offered = new Set(text.split(/\s+/));
  return new Set((['memory', 'cpu', 'pids'] as const).filter((c) => offered.has(c)));
}

/**
 * Makes `root/parent` a cgroup whose children may use `controllers`: v2 only lets a child use a
 * controller its parent lists in cgroup.subtree_control, and only if the parent holds no process
 * itself (so this fails with EBUSY when `root` is, say, the cgroup `ten serve` runs in).
 */
export async function prepareV2Parent(root: string, parent: string, controllers: ReadonlySet<CgroupController>): Promise<void> {
  const enable = [...controllers].map((c) => `+${c}`).join(' ');
  if (enable) await writeControl(`${root}/cgroup.subtree_control`, enable);
  mkdirSync(`${root}/${parent}`, { recursive: true });
  if (enable) await writeControl(`${root}/${parent}/cgroup.subtree_control`, enable);
}

/** cpu_shares 100 = cpu.weight 100, the v2 default; clamped to what the kernel accepts. */
export function cpuWeightOf(shares: number): number {
  return Math.min(10000, Math.max(1, Math.round(shares)));
}

export class CgroupV2Group implements AppliedLimits {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates (or recreates, killing a crashed server's leftovers) the group and writes its limits. */
  static async create(dir: string, settings: CgroupSettings): Promise<CgroupV2Group> {
    const group = new CgroupV2Group(dir);
    if (existsSync(dir)) await group.release();
    try {
      mkdirSync(dir);
      if (settings.memoryBytes !== undefined) {
        await writeControl(`${dir}/memory.max`, String(settings.memoryBytes));
        // Without this the kernel would swap instead of killing, and the limit would not bite.
        await writeOptionalControl(`${dir}/memory.swap.max`, '0');
        // An OOM kills the whole instance, not one random process of it: the restart is clean.
        await writeOptionalControl(`${dir}/memory.oom.group`, '1');
      }
      if (settings.cpuShares !== undefined) await writeControl(`${dir}/cpu.weight`, String(cpuWeightOf(settings.cpuShares)));
      if (settings.pidsMax !== undefined) await writeControl(`${dir}/pids.max`, String(settings.pidsMax));
    } catch (err) {
      await group.release();
      throw err;
    }
    return group;
  }

  /** Removes the group at `dir` if it exists, killing what is in it. */
  static async remove(dir: string): Promise<void> {
    await new CgroupV2Group(dir).release();
  }

  /** The group a previous server made at `dir`, as it is (nothing written); undefined if it is gone. */
  static attach(dir: string): CgroupV2Group | undefined {
    return existsSync(dir) ? new CgroupV2Group(dir) : undefined;
  }

  /** Whether process `pid` is in this group. */
  async holds(pid: number): Promise<boolean> {
    return (await cgroupPids(this.dir)).includes(pid);
  }

  wrapArgv(argv: readonly string[]): string[] {
    return joinCgroupsArgv({ v2: [this.dir] }, argv);
  }

  async wasOomKilled(): Promise<boolean> {
    return ((await readCounter(`${this.dir}/memory.events`, 'oom_kill')) ?? 0) > 0;
  }

  async usage(): Promise<ResourceUsage | undefined> {
    const memoryBytes = await readCounter(`${this.dir}/memory.current`);
    const cpuUsec = await readCounter(`${this.dir}/cpu.stat`, 'usage_usec');
    if (memoryBytes === undefined && cpuUsec === undefined) return undefined;
    return { memoryBytes, cpuSeconds: cpuUsec === undefined ? undefined : cpuUsec / 1e6 };
  }

  /** cgroup.kill (Linux 5.14+) kills every task at once, forks in flight included; else pid by pid. */
  async killAll(): Promise<void> {
    const deadline = Date.now() + RELEASE_DEADLINE_MS;
    for (;;) {
      if (!(await writeOptionalControl(`${this.dir}/cgroup.kill`, '1'))) await killListed(this.dir);
      if (await waitEmpty(this.dir, Math.min(deadline, Date.now() + 200)) || Date.now() > deadline) return;
    }
  }

  async freeze(): Promise<void> {
    await writeControl(`${this.dir}/cgroup.freeze`, '1');
    await waitFrozen(async () => (await readCounter(`${this.dir}/cgroup.events`, 'frozen')) === 1, () => this.thaw());
  }

  async thaw(): Promise<void> {
    writeControlNow(`${this.dir}/cgroup.freeze`, '0');
  }

  async isFrozen(): Promise<boolean> {
    return (await readControl(`${this.dir}/cgroup.freeze`)) === '1';
  }

  async release(): Promise<void> {
    // cgroup.kill reaches frozen tasks too; the thaw is for kernels without it (signals wait for a thaw).
    await writeOptionalControl(`${this.dir}/cgroup.freeze`, '0');
    await removeCgroup(this.dir, async () => writeOptionalControl(`${this.dir}/cgroup.kill`, '1'));
  }
}
