// Management API and CLI speed with 1,000 registered instances: p50/p99 latency of
// GET /api/instances over keep-alive HTTP, and the wall time of `ten ps -a` (a whole CLI process)
// beside its floor, a Node process that does nothing (`node -e 0`), runs interleaved.
// TENEMENT_BENCH_BASELINE=<root of another build (bin/ten, dist/)> adds that build's `ten ps -a`.
// Instances are registered stopped (straight into the store before boot) so no processes run.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openDb } from '../src/store/db.js';
import { InstanceStore } from '../src/store/instances.js';
import { startDaemon, tempDir, TEN } from '../test/helpers/daemon.js';

export interface ApiBenchResult {
  instances: number;
  requests: number;
  /** GET /api/instances latency, ms. */
  listP50Ms: number;
  listP99Ms: number;
  /** Median wall time of `ten ps -a` (process start to exit), ms. */
  psWallMs: number;
  /** Median wall time of `node -e 0`, measured interleaved with it: the floor. */
  nodeWallMs: number;
  /** Median wall time of the baseline build's `ten ps -a`, when one is given. */
  baselinePsWallMs?: number;
  psRuns: number;
}

export async function benchApi(options: { instances?: number; requests?: number; psRuns?: number; baselineRoot?: string } = {}): Promise<ApiBenchResult> {
  const instances = options.instances ?? 1000;
  const requests = options.requests ?? 500;
  const psRuns = options.psRuns ?? 15;
  const baselineRoot = options.baselineRoot ?? process.env.TENEMENT_BENCH_BASELINE;
  const dir = tempDir(undefined, 'tenement-bench-api-');
  try {
    mkdirSync(join(dir, 'data'), { recursive: true });
    const db = openDb(join(dir, 'data', 'tenement.db'));
    const store = new InstanceStore(db);
    db.transaction(() => {
      for (let i = 0; i < instances; i++) store.insert('bench', `t${String(i).padStart(4, '0')}`, 100, 'stopped');
    })();
    db.close();

    const daemon = await startDaemon(undefined, { dir, config: '[service.bench]\ncommand = "node {apps}/ok.mjs"\nhealth = "/health"\n' });
    try {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = (): Promise<number> => new Promise((resolve, reject) => {
        const started = performance.now();
        const req = request({ host: '127.0.0.1', port: daemon.port, path: '/api/instances', agent,
          headers: { host: 'localhost', authorization: `Bearer ${daemon.token}` } }, (res) => {
          let size = 0;
          res.on('data', (c: Buffer) => { size += c.length; });
          res.on('end', () => (res.statusCode === 200 && size > 0 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end();
      });
      for (let i = 0; i < 50; i++) await get();
      const times: number[] = [];
      for (let i = 0; i < requests; i++) times.push(await get());
      agent.destroy();

      const env = { ...process.env, TENEMENT_SERVER: daemon.url, TENEMENT_TOKEN: daemon.token };
      const wall = (args: readonly string[], check: (stdout: string) => boolean): Promise<number> => new Promise((resolve, reject) => {
        const started = performance.now();
        execFile(process.execPath, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
          if (err !== null || !check(stdout)) reject(err ?? new Error(`short output of ${args.join(' ')}`));
          else resolve(performance.now() - started);
        });
      });
      const fullPs = (stdout: string): boolean => stdout.split('\n').length > instances;
      const psTimes: number[] = [];
      const nodeTimes: number[] = [];
      const baselineTimes: number[] = [];
      for (let i = 0; i < psRuns; i++) {
        psTimes.push(await wall([TEN, 'ps', '-a'], fullPs));
        nodeTimes.push(await wall(['-e', '0'], () => true));
        if (baselineRoot !== undefined) baselineTimes.push(await wall([join(baselineRoot, 'bin/ten'), 'ps', '-a'], fullPs));
      }
      return {
        instances, requests,
        listP50Ms: percentile(times, 0.5), listP99Ms: percentile(times, 0.99),
        psWallMs: percentile(psTimes, 0.5), nodeWallMs: percentile(nodeTimes, 0.5), psRuns,
        ...(baselineRoot === undefined ? {} : { baselinePsWallMs: percentile(baselineTimes, 0.5) }),
      };
    } finally {
      await daemon.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await benchApi();
  console.log(`GET /api/instances with ${r.instances} instances: p50 ${r.listP50Ms} ms, p99 ${r.listP99Ms} ms (${r.requests} requests)`);
  console.log(formatPs(r));
}

export function formatPs(r: ApiBenchResult): string {
  const baseline = r.baselinePsWallMs === undefined ? '' : `; baseline build ${r.baselinePsWallMs} ms (${(r.psWallMs / r.baselinePsWallMs).toFixed(2)}×)`;
  return `ten ps -a with ${r.instances} instances: ${r.psWallMs} ms wall, median of ${r.psRuns}; node -e 0 beside it ${r.nodeWallMs} ms${baseline}`;
}
