/**
 * Isolation benchmark: cold start (spawn → first healthy answer) of the same Node app at each
 * isolation level, with the protections `ten serve` gives as root (a tenant uid, no privileges,
 * a cgroup per instance), rounds interleaved, median; and memory per instance (PSS of every host
 * process it consists of).
 * With BENCH_BASELINE=<another checkout> (e.g. `git worktree add /tmp/base <commit>`, with its
 * node_modules) the runtimes of that checkout run interleaved in the same rounds, as the
 * "before" beside this checkout's "after". BENCH_ROUNDS=<n> runs more rounds than 15 (a loaded
 * machine needs more for a stable median).
 * Run alone: node --import tsx bench/isolation.ts
 * @module
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Isolation } from '../src/config/types.js';
import { CgroupLimits } from '../src/runtime/cgroups.js';
import { NamespaceRuntime } from '../src/runtime/namespace.js';
import { ProcessRuntime } from '../src/runtime/process.js';
import type { RunningProcess, Runtime, TenantUser } from '../src/runtime/runtime.js';
import { SandboxRuntime } from '../src/runtime/sandbox.js';
import { freePort } from '../test/helpers/net.js';
import { testSpawnSpec } from '../test/helpers/spawn-spec.js';
import { pssKb } from './plumbing.js';

const OK_APP = fileURLToPath(new URL('../test/fixtures/apps/ok.mjs', import.meta.url));
const LEVELS: readonly Isolation[] = ['process', 'namespace', 'sandbox'];
/** Tenant uids the bench runs its instances as (the start of the default uid_range). */
const FIRST_UID = 61184;

interface Variant {
  readonly name: 'before' | 'after';
  readonly runtimes: Record<Isolation, Runtime>;
  /** Runs instances as tenant uids (the "after" code, as root). */
  readonly tenantUsers: boolean;
}

export interface IsolationBenchResult {
  rounds: number;
  /** Median spawn → healthy, ms, per variant and level. */
  coldStartMs: Partial<Record<Variant['name'], Record<Isolation, number>>>;
  /** Median over rounds of (after − before) in the same round, ms, per level: robust to load drift. */
  pairedCostMs?: Record<Isolation, number>;
  /** Mean PSS of one idle instance, MiB, per variant and level. */
  memoryMb: Partial<Record<Variant['name'], Record<Isolation, number>>>;
}

export async function benchIsolation(options: { rounds?: number; memoryInstances?: number; baseline?: string } = {}): Promise<IsolationBenchResult> {
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 15);
  const memoryInstances = options.memoryInstances ?? 3;
  const baseline = options.baseline ?? process.env.BENCH_BASELINE;
  const root = mkdtempSync(join(tmpdir(), 'tenement-bench-isolation-'));
  // Tenant uids pass through it to their data dirs, as through a real data dir.
  chmodSync(root, 0o711);
  const limits = new CgroupLimits({ parent: `tenement-bench-${process.pid}` });
  const variants: Variant[] = [];
  if (baseline !== undefined) variants.push({ name: 'before', runtimes: await baselineRuntimes(baseline, root), tenantUsers: false });
  variants.push({
    name: 'after',
    tenantUsers: process.getuid?.() === 0,
    runtimes: {
      process: new ProcessRuntime({ limits }),
      namespace: new NamespaceRuntime({ dataRoot: root, limits }),
      sandbox: new SandboxRuntime({ stateDir: join(root, '.sandbox'), dataRoot: root, limits }),
    },
  });
  try {
    // Probes (unshare, a first runsc container, cgroup detection) are one-time costs, not cold starts.
    for (const variant of variants) {
      for (const level of LEVELS) await variant.runtimes[level].check({ memoryLimitMb: undefined, cpuShares: undefined });
    }
    const samples = new Map<string, number[]>();
    let seq = 0;
    for (let round = 0; round < rounds; round++) {
      for (const level of LEVELS) {
        for (const variant of variants) {
          const started = performance.now();
          const instance = await startHealthy(variant, level, root, `${variant.name}-${level}-${round}`, seq++);
          const key = `${variant.name}/${level}`;
          samples.set(key, [...(samples.get(key) ?? []), performance.now() - started]);
          await instance.stop(2000);
        }
      }
    }
    const result: IsolationBenchResult = { rounds, coldStartMs: {}, memoryMb: {} };
    if (baseline !== undefined) {
      const paired = {} as Record<Isolation, number>;
      for (const level of LEVELS) {
        const before = samples.get(`before/${level}`) ?? [];
        paired[level] = median((samples.get(`after/${level}`) ?? []).map((after, i) => after - (before[i] ?? NaN)));
      }
      result.pairedCostMs = paired;
    }
    for (const variant of variants) {
      const cold = {} as Record<Isolation, number>;
      const memory = {} as Record<Isolation, number>;
      for (const level of LEVELS) {
        cold[level] = median(samples.get(`${variant.name}/${level}`) ?? []);
        memory[level] = await memoryPerInstance(variant, level, root, `mem-${variant.name}-${level}-`, memoryInstances, seq);
        seq += memoryInstances;
      }
      result.coldStartMs[variant.name] = cold;
      result.memoryMb[variant.name] = memory;
    }
    for (const level of LEVELS) {
      const before = result.coldStartMs.before?.[level];
      const after = result.coldStartMs.after![level];
      const beforeMb = result.memoryMb.before?.[level];
      const afterMb = result.memoryMb.after![level];
      console.log(`${level.padEnd(9)} spawn → healthy (median of ${rounds}): ${before === undefined ? '' : `before ${before} ms, `}after ${after} ms${
        before === undefined ? '' : ` (${signed(after - before)} ms; paired median ${signed(result.pairedCostMs![level])} ms)`}; memory per instance (PSS, mean of ${memoryInstances}): ${
        beforeMb === undefined ? '' : `before ${beforeMb} MiB, `}after ${afterMb} MiB${beforeMb === undefined ? '' : ` (${signed(afterMb - beforeMb)} MiB)`}`);
    }
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
    const host = await limits.detect();
    for (const dir of [...Object.values(host.v1Mounts ?? {}), ...(host.v2Root === undefined ? [] : [host.v2Root])]) {
      try {
        rmdirSync(join(dir, limits.parent));
      } catch {
        // never created in this hierarchy
      }
    }
  }
}

/** The process, namespace and sandbox runtimes of another checkout, as its own code builds them. */
async function baselineRuntimes(checkout: string, root: string): Promise<Record<Isolation, Runtime>> {
  const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(checkout, 'src/runtime', file)).href)) as T;
  const { ProcessRuntime: Process } = await load<{ ProcessRuntime: new () => Runtime }>('process.ts');
  const { NamespaceRuntime: Namespace } = await load<{ NamespaceRuntime: new (o: object) => Runtime }>('namespace.ts');
  const { SandboxRuntime: Sandbox } = await load<{ SandboxRuntime: new (o: object) => Runtime }>('sandbox.ts');
  return {
    process: new Process(),
    namespace: new Namespace({ dataRoot: root }),
    sandbox: new Sandbox({ stateDir: join(root, '.sandbox-before'), dataRoot: root }),
  };
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${round1(value)}`;
}

/**
 * Starts ok.mjs as `bench:<id>` (as tenant uid FIRST_UID + seq for "after" as root, its data dir
 * made its own like the supervisor does) and resolves once GET /health answers 200.
 */
async function startHealthy(variant: Variant, level: Isolation, root: string, id: string, seq: number): Promise<RunningProcess> {
  const dataDir = join(root, 'bench', id);
  mkdirSync(dataDir, { recursive: true });
  chmodSync(join(root, 'bench'), 0o711);
  const user: TenantUser | undefined = variant.tenantUsers ? { uid: FIRST_UID + (seq % 1000), gid: FIRST_UID + (seq % 1000) } : undefined;
  if (user !== undefined) chownSync(dataDir, user.uid, user.gid);
  const port = await freePort();
  const instance = await variant.runtimes[level].start(testSpawnSpec(`bench:${id}`, [process.execPath, OK_APP], { port, dataDir, user }));
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
async function memoryPerInstance(variant: Variant, level: Isolation, root: string, prefix: string, count: number, seq: number): Promise<number> {
  const instances: RunningProcess[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await startHealthy(variant, level, root, `${prefix}${i}`, seq + i));
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
