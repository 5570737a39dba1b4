/**
 * What the kernel says about a process, read as an operator would: whether its cgroup is frozen
 * (v1 freezer.state or v2 cgroup.events), and its CPU time.
 * @module
 */
import { readFileSync } from 'node:fs';

function mounts(): Array<{ dir: string; type: string; options: string[] }> {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => {
    const [, dir = '', type = '', options = ''] = line.split(' ');
    return { dir, type, options: options.split(',') };
  });
}

/** True/false from the cgroup that freezes `pid`; undefined if it is in no freezable group. */
export function isCgroupFrozen(pid: number): boolean | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.map((l) => l.split(':')).find(([, controllers]) => controllers?.split(',').includes('freezer'));
  if (v1 !== undefined && v1[2] !== '/') {
    const mount = mounts().find((m) => m.type === 'cgroup' && m.options.includes('freezer'));
    if (mount !== undefined) return readFileSync(`${mount.dir}${v1[2]}/freezer.state`, 'utf8').trim() === 'FROZEN';
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2 !== undefined && v2 !== '0::/') {
    for (const mount of mounts().filter((m) => m.type === 'cgroup2')) {
      try {
        const events = readFileSync(`${mount.dir}${v2.slice(3)}/cgroup.events`, 'utf8');
        return /^frozen 1$/m.test(events);
      } catch {
        // not in this mount
      }
    }
  }
  return undefined;
}

/** user + system CPU ticks of one process. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is [0], utime [11], stime [12].
  return Number(fields[11]) + Number(fields[12]);
}
