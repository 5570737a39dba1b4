/**
 * Wake tiers through the real `ten serve` (needs `npm run build`), in one run and interleaved:
 * request → response for an instance that is already running (right after traffic, and after the
 * same idle gap a frozen one had, not frozen), one that is frozen (thaw), and one that is stopped
 * (cold start), each on a fresh connection with the reference app
 * (bench/upstream-app.mjs); then the memory a frozen instance holds (PSS).
 *   npm run bench -- wake [--quick]
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/net.js';
import { pssKb, startServe } from './plumbing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface WakeTiersOptions {
  /** Rounds of running / thaw / cold, interleaved (default 40). */
  samples?: number;
  /** Frozen instances whose memory is measured (default 10). */
  frozenInstances?: number;
  log?: (line: string) => void;
}

export interface Latency {
  readonly medianMs: number;
  readonly p99Ms: number;
}

export interface WakeTiersResult {
  readonly running: Latency;
  /** Running, but idle for as long as the frozen one was before its thaw. */
  readonly runningAfterIdle: Latency;
  readonly thaw: Latency;
  readonly cold: Latency;
  /** Median thaw minus median running (hot), and minus median running after the same idle gap. */
  readonly thawAddsMs: number;
  readonly thawAddsOverIdleMs: number;
  /** Mean PSS of one frozen instance, MiB. */
  readonly frozenPssMb: number;
}

interface Reply { status: number; body: string }

function call(port: number, path: string, host: string, method = 'GET', token?: string, body?: string): Promise<Reply> {
  return new Promise((res, rej) => {
    const req = request({
      host: '127.0.0.1', port, path, method, agent: false,
      headers: { host, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (r) => {
      let text = '';
      r.on('data', (c: Buffer) => { text += c.toString(); });
      r.on('end', () => res({ status: r.statusCode ?? 0, body: text }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', rej);
    req.end(body);
  });
}

function latency(values: readonly number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { medianMs: round2(at(0.5)), p99Ms: round2(at(0.99)) };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export async function benchWakeTiers(options: WakeTiersOptions = {}): Promise<WakeTiersResult> {
  if (!existsSync(join(ROOT, 'dist/serve.js'))) throw new Error('not built: run `npm run build` first, or use `npm run bench -- wake`, which builds');
  const samples = options.samples ?? 40;
  const frozenCount = options.frozenInstances ?? 10;
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-tiers-'));
  const app = `${process.execPath} ${join(BENCH_DIR, 'upstream-app.mjs')}`;
  writeFileSync(join(dir, 'tenement.toml'), `[settings]\nhealth_check_interval = 1\n\n[service.app]\ncommand = "${app}"\nhealth = "/health"\nidle_timeout = 0\nfreeze_after = 0.5\nstop_timeout = 2\n\n[service.warm]\ncommand = "${app}"\nhealth = "/health"\nidle_timeout = 0\nstop_timeout = 2\n\n[instances]\napp = ["prod"]\nwarm = ["prod"]\n`);
  const port = await freePort();
  const server = await startServe(dir, port);
  try {
    const token = readFileSync(join(dir, 'data', 'api_token'), 'utf8').trim();
    const host = 'prod.app.localhost';
    const states = async (): Promise<Array<{ instance: string; state: string; pid: number | null }>> =>
      JSON.parse((await call(port, '/api/instances', 'localhost', 'GET', token)).body) as Array<{ instance: string; state: string; pid: number | null }>;
    const waitState = async (names: readonly string[], state: string): Promise<void> => {
      const until = Date.now() + 20_000;
      for (;;) {
        const rows = await states();
        if (names.every((n) => rows.find((r) => r.instance === n)?.state === state)) return;
        if (Date.now() > until) throw new Error(`${names.join(', ')} did not become ${state}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const timed = async (to = host): Promise<number> => {
      const started = performance.now();
      const r = await call(port, '/', to);
      const ms = performance.now() - started;
      if (r.status !== 200) throw new Error(`request got ${r.status}`);
      return ms;
    };
    // Boot may already have frozen it: any answer will do to begin.
    const ready = Date.now() + 20_000;
    while ((await call(port, '/', host).catch(() => ({ status: 0 }))).status !== 200) {
      if (Date.now() > ready) throw new Error('app:prod never answered');
      await new Promise((r) => setTimeout(r, 50));
    }

    const warmHost = 'prod.warm.localhost';
    const running: number[] = [];
    const runningAfterIdle: number[] = [];
    const thaw: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < samples; i++) {
      for (let w = 0; w < 3; w++) {
        await timed(warmHost);
        await timed();
      }
      running.push(await timed());
      await waitState(['app:prod'], 'frozen');
      // warm:prod has been idle as long as app:prod, without being frozen.
      runningAfterIdle.push(await timed(warmHost));
      thaw.push(await timed());
      const stopped = await call(port, '/api/instances/app:prod/stop', 'localhost', 'POST', token);
      if (stopped.status !== 200) throw new Error(`stop failed: ${stopped.status} ${stopped.body}`);
      cold.push(await timed());
    }

    const names = Array.from({ length: frozenCount }, (_, i) => `app:m${i}`);
    for (const name of names) {
      const r = await call(port, '/api/instances', 'localhost', 'POST', token, JSON.stringify({ service: 'app', id: name.slice(4), wait: true }));
      if (r.status !== 201) throw new Error(`spawn ${name}: ${r.status} ${r.body}`);
    }
    await waitState(names, 'frozen');
    const rows = await states();
    const pssTotalKb = names.reduce((sum, n) => sum + pssKb(rows.find((r) => r.instance === n)!.pid!), 0);

    const result: WakeTiersResult = {
      running: latency(running),
      runningAfterIdle: latency(runningAfterIdle),
      thaw: latency(thaw),
      cold: latency(cold),
      thawAddsMs: round2(latency(thaw).medianMs - latency(running).medianMs),
      thawAddsOverIdleMs: round2(latency(thaw).medianMs - latency(runningAfterIdle).medianMs),
      frozenPssMb: round2(pssTotalKb / 1024 / frozenCount),
    };
    log(`wake tiers, ${samples} interleaved rounds, request → full response on a new connection:`);
    const table: Array<[string, Latency]> = [
      ['running (hot)', result.running], ['running, idle as long', result.runningAfterIdle], ['frozen (thaw)', result.thaw], ['stopped (cold start)', result.cold],
    ];
    for (const [label, l] of table) {
      log(`  ${label.padEnd(22)} median ${l.medianMs.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms`);
    }
    log(`  thaw adds ${result.thawAddsMs.toFixed(2)} ms median over running hot, ${result.thawAddsOverIdleMs.toFixed(2)} ms over running after the same idle gap (goal ≤ 5 ms: ${result.thawAddsMs <= 5 ? 'met' : 'NOT met'}); cold start is ${round2(result.cold.medianMs / result.thaw.medianMs)}× the thaw`);
    log(`  memory held per frozen instance: ${result.frozenPssMb} MiB PSS (mean of ${frozenCount})`);
    return result;
  } finally {
    server.kill('SIGTERM');
    await new Promise((res) => { if (server.exitCode !== null) res(undefined); else server.once('exit', res); });
    rmSync(dir, { recursive: true, force: true });
  }
}
