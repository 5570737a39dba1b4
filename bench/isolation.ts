/**
 * Isolation benchmark (issue 6): cold start (spawn → first healthy answer) of the same Node app at
 * each isolation level, rounds interleaved, median; and the memory a sandboxed instance costs
 * beyond the same app as a plain process (PSS of every host process the instance consists of).
 * Run alone: node --import tsx bench/isolation.ts
 * @module
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Isolation } from '../src/config/types.js';
import { NamespaceRuntime } from '../src/runtime/namespace.js';
import { ProcessRuntime } from '../src/runtime/process.js';
import type { RunningProcess, Runtime } from '../src/runtime/runtime.js';
import { SandboxRuntime } from '../src/runtime/sandbox.js';
import { freePort } from '../test/helpers/net.js';
import { testSpawnSpec } from '../test/helpers/spawn-spec.js';

const OK_APP = fileURLToPath(new URL('../test/fixtures/apps/ok.mjs', import.meta.url));
const LEVELS: readonly Isolation[] = ['process', 'namespace', 'sandbox'];

export interface IsolationBenchResult {
  rounds: number;
  /** Median spawn → healthy, ms, per level. */
  coldStartMs: Record<Isolation, number>;
  /** Memory (PSS) of one instance, MiB, per level measured. */
  processMemoryMb: number;
  sandboxMemoryMb: number;
  /** What gVisor adds per instance: sandbox minus process, MiB. */
  sandboxOverheadMb: number;
}

export async function benchIsolation(options: { rounds?: number; memoryInstances?: number } = {}): Promise<IsolationBenchResult> {
  const rounds = options.rounds ?? 5;
  const memoryInstances = options.memoryInstances ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'tenement-bench-isolation-'));
  const runtimes: Record<Isolation, Runtime> = {
    process: new ProcessRuntime(),
    namespace: new NamespaceRuntime({ dataRoot: root }),
    sandbox: new SandboxRuntime({ stateDir: join(root, '.sandbox'), dataRoot: root }),
  };
  try {
    // Probes (unshare, a first runsc container) are one-time costs, not cold starts.
    for (const level of LEVELS) await runtimes[level].check({ memoryLimitMb: undefined, cpuShares: undefined });
    const samples: Record<Isolation, number[]> = { process: [], namespace: [], sandbox: [] };
    for (let round = 0; round < rounds; round++) {
      for (const level of LEVELS) {
        const started = performance.now();
        const instance = await startHealthy(runtimes[level], root, `${level}-${round}`);
        samples[level].push(performance.now() - started);
        await instance.stop(2000);
      }
    }
    const processMemoryMb = await memoryPerInstance(runtimes.process, root, 'memp', memoryInstances);
    const sandboxMemoryMb = await memoryPerInstance(runtimes.sandbox, root, 'mems', memoryInstances);
    const result: IsolationBenchResult = {
      rounds,
      coldStartMs: { process: median(samples.process), namespace: median(samples.namespace), sandbox: median(samples.sandbox) },
      processMemoryMb,
      sandboxMemoryMb,
      sandboxOverheadMb: round1(sandboxMemoryMb - processMemoryMb),
    };
    const starts = LEVELS.map((level) => `${level} ${result.coldStartMs[level]} ms`).join(', ');
    console.log(`cold start, spawn → healthy (median of ${rounds}): ${starts}`);
    console.log(`memory per instance (PSS, mean of ${memoryInstances}): process ${processMemoryMb} MiB, sandbox ${sandboxMemoryMb} MiB → gVisor adds ${result.sandboxOverheadMb} MiB`);
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Starts ok.mjs as `bench:<id>` and resolves once GET /health answers 200. */
async function startHealthy(runtime: Runtime, root: string, id: string): Promise<RunningProcess> {
  const dataDir = join(root, 'bench', id);
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const instance = await runtime.start(testSpawnSpec(`bench:${id}`, [process.execPath, OK_APP], { port, dataDir }));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) return instance;
    if (Date.now() > deadline) {
      await instance.stop(1000);
      throw new Error(`bench:${id} never became healthy`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Mean PSS (MiB) of `count` idle instances, each counted as its leader and all descendants. */
async function memoryPerInstance(runtime: Runtime, root: string, prefix: string, count: number): Promise<number> {
  const instances: RunningProcess[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await startHealthy(runtime, root, `${prefix}${i}`));
    let totalKb = 0;
    for (const instance of instances) {
      for (const pid of descendantsOf(instance.pid)) totalKb += pssKb(pid);
    }
    return round1(totalKb / 1024 / count);
  } finally {
    await Promise.all(instances.map((instance) => instance.stop(2000)));
  }
}

/** `pid` and every process below it (gVisor's sandbox and gofer are children of `runsc run`). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited while we looked
    }
  }
  const found = [pid];
  for (let i = 0; i < found.length; i++) found.push(...(children.get(found[i]!) ?? []));
  return found;
}

function pssKb(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return round1(sorted[Math.floor(sorted.length / 2)] ?? NaN);
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchIsolation();
}
