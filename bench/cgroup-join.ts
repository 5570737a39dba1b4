/**
 * Microbenchmark of how a new process joins its cgroups (src/runtime/cgroup-fs.ts): spawn → exit
 * of a `/bin/sh` that joins fresh groups and execs `true`, each run after a pause (as spawns come
 * in practice, so the kernel's threadgroup lock is cold), ways interleaved, median. The ways: no
 * join; its pid into `cgroup.procs` of each v1 hierarchy an instance uses and of a cgroup2 group
 * (tenement before this was measured); `0` into each v1 `tasks` (one thread, no global lock); the
 * cgroup2 join alone; and that join with tenement's warm-up started just before the fork.
 * Needs root. Run alone: node --import tsx bench/cgroup-join.ts, or npm run bench -- cgroup-join.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { detectCgroups } from '../src/runtime/cgroups.js';
import { warmUpCgroup2Join } from '../src/runtime/cgroup-fs.js';

/** The v1 hierarchies an instance with no limits set joins: memory, pids, cpuacct, freezer. */
const V1 = ['memory', 'pids', 'cpuacct', 'freezer'] as const;
const PAUSE_MS = 150;

interface Way {
  readonly name: string;
  readonly v1Procs?: boolean;
  readonly v1Tasks?: boolean;
  readonly v2?: boolean;
  readonly warmUp?: boolean;
}

export async function benchCgroupJoin(options: { rounds?: number; log?: (line: string) => void } = {}): Promise<Record<string, number>> {
  const rounds = options.rounds ?? 21;
  const log = options.log ?? console.log;
  const host = await detectCgroups();
  const v1Mounts = V1.map((c) => host.v1Mounts?.[c]).filter((m): m is string => m !== undefined);
  const v2Mount = host.v2Mount;
  const ways: Way[] = [
    { name: 'no join' },
    ...(v1Mounts.length > 0 ? [{ name: `pid into cgroup.procs (${v1Mounts.length} v1${v2Mount === undefined ? '' : ' + cgroup2'})`, v1Procs: true, v2: true }] : []),
    ...(v1Mounts.length > 0 ? [{ name: `0 into tasks (${v1Mounts.length} v1)`, v1Tasks: true }] : []),
    ...(v2Mount === undefined ? [] : [{ name: 'pid into cgroup2 cgroup.procs', v2: true }, { name: 'same, with the warm-up', v2: true, warmUp: true }]),
  ];
  const samples = new Map<string, number[]>();
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    for (const way of ways) {
      const name = `tenement-bench-join-${process.pid}-${n++}`;
      const v1Dirs = way.v1Procs === true || way.v1Tasks === true ? v1Mounts.map((m) => `${m}/${name}`) : [];
      const v2Dirs = way.v2 === true && v2Mount !== undefined ? [`${v2Mount}/${name}`] : [];
      for (const dir of [...v1Dirs, ...v2Dirs]) mkdirSync(dir);
      try {
        const joins = [
          ...v1Dirs.map((dir) => (way.v1Tasks === true ? `echo 0 > ${dir}/tasks` : `echo $$ > ${dir}/cgroup.procs`)),
          ...v2Dirs.map((dir) => `echo $$ > ${dir}/cgroup.procs`),
        ];
        await sleep(PAUSE_MS);
        const started = performance.now();
        if (way.warmUp === true) void warmUpCgroup2Join(v2Mount!);
        const code = await new Promise<number | null>((resolve) => {
          spawn('/bin/sh', ['-c', [...joins, 'exec true'].join(' && ')], { stdio: 'ignore' }).on('exit', resolve);
        });
        if (code !== 0) throw new Error(`the joining shell of "${way.name}" failed (exit ${code}): run as root`);
        samples.set(way.name, [...(samples.get(way.name) ?? []), performance.now() - started]);
      } finally {
        for (const dir of [...v1Dirs, ...v2Dirs]) rmdirSync(dir);
      }
    }
  }
  const result: Record<string, number> = {};
  for (const way of ways) {
    const sorted = [...samples.get(way.name)!].sort((a, b) => a - b);
    result[way.name] = Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10;
    log(`${way.name.padEnd(44)} spawn → exit ${result[way.name]} ms (median of ${rounds}, each after a ${PAUSE_MS} ms pause)`);
  }
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchCgroupJoin();
}
