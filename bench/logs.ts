/**
 * Log benchmarks (issue 5): (1) ingestion — lines/s the capture + writer thread sustain into a
 * real SQLite file, and the event-loop delay meanwhile (the writes run off the main thread); (2) proxy throughput of a real
 * `ten serve` with and without a tenant flooding its stdout, interleaved in one run, as a ratio.
 * Run alone: node --import tsx bench/logs.ts [--quick]   (needs `npm run build`, wrk, taskset)
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventBus } from '../src/core/events.js';
import { LogCapture } from '../src/observability/log-capture.js';
import { openDb } from '../src/store/db.js';
import { InstanceStore } from '../src/store/instances.js';
import { LogStore } from '../src/store/logs.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** This folder: the reference app (upstream-app.mjs) and the nginx peer (nginx-peer.sh). */
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface LogsBenchOptions {
  /** Lines pushed through the ingestion path (default 300,000). */
  lines?: number;
  /** Seconds per wrk run (default 8) after a warm-up (default 2). */
  durationS?: number;
  warmupS?: number;
  rounds?: number;
  connections?: number;
  log?: (line: string) => void;
}

export interface LogsBenchResult {
  ingestion: { linesPerS: number; p99LoopDelayMs: number; maxLoopDelayMs: number; slowestServerWriteMs: number };
  proxy: { quietReqPerS: number; floodingReqPerS: number; ratio: number; floodLinesPerS: number; errors: number };
}

/** Ingestion capacity: the rate limit lifted, lines from 10 instances as fast as the loop takes them. */
export async function benchIngestion(lines: number): Promise<LogsBenchResult['ingestion']> {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-logs-'));
  const file = join(dir, 'tenement.db');
  const db = openDb(file);
  try {
    const store = new LogStore(db);
    const events = new EventBus();
    const capture = new LogCapture({ store, file, events, linesPerSecond: 1e9, burstLines: 1e9, maxQueuedPerInstance: 1e9 });
    // The proxy shares this event loop: its delay is how long a request would wait.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    capture.start();
    // The server's own writes (registrations, states) share the file: how long one waits for the lock.
    const instances = new InstanceStore(db);
    let slowestServerWriteMs = 0;
    const padding = 'x'.repeat(60);
    const began = performance.now();
    // One chunk per tick, the way a child's pipe delivers lines, so flushes interleave as in the server.
    for (let sent = 0; sent < lines; sent += 250) {
      for (let i = 0; i < 250; i++) {
        const n = sent + i;
        events.emit('output', { instance: `bench:t${n % 10}`, service: 'bench', id: `t${n % 10}`, stream: 'stdout', line: `GET /items/${n} 200 ${padding}`, at: Date.now() });
      }
      if (sent % 10_000 === 0) {
        const writeBegan = performance.now();
        instances.insert('bench', `w${sent}`, 100, 'running');
        slowestServerWriteMs = Math.max(slowestServerWriteMs, performance.now() - writeBegan);
      }
      await new Promise((r) => setImmediate(r));
    }
    await capture.close();
    const seconds = (performance.now() - began) / 1000;
    loopDelay.disable();
    return { linesPerS: capture.stored / seconds, p99LoopDelayMs: loopDelay.percentile(99) / 1e6, maxLoopDelayMs: loopDelay.max / 1e6, slowestServerWriteMs };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((res, rej) => execFile(cmd, args, { timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => (err ? rej(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : res(stdout))));
}

async function wrk(port: number, seconds: number, connections: number): Promise<{ reqPerS: number; errors: number }> {
  const out = await run('taskset', ['-c', '0', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '-H', 'Host: prod.app.localhost', `http://127.0.0.1:${port}/`]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    reqPerS: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    errors: non2xx + (sock === null ? 0 : sock.slice(1).reduce((n, v) => n + Number(v), 0)),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function benchProxyUnderFlood(options: Required<Omit<LogsBenchOptions, 'lines'>>): Promise<LogsBenchResult['proxy']> {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-flood-'));
  writeFileSync(join(dir, 'tenement.toml'), `
[settings]
health_check_interval = 60
[service.app]
command = "node ${join(BENCH_DIR, 'upstream-app.mjs')}"
idle_timeout = 0
[service.flood]
command = "node ${join(ROOT, 'test/fixtures/apps/log-flood.mjs')}"
idle_timeout = 0
`);
  // The server and its instances on CPU 1, wrk on CPU 0, as in bench/proxy.ts.
  const server: ChildProcess = spawn('taskset', ['-c', '1', process.execPath, join(ROOT, 'bin/ten'), 'serve', '--config', join(dir, 'tenement.toml'),
    '--data-dir', join(dir, 'data'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`ten serve did not start:\n${out}`)), 30_000);
      server.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      });
    });
    server.stdout!.resume();
    const env = { TENEMENT_SERVER: `http://127.0.0.1:${port}`, TENEMENT_TOKEN: readFileSync(join(dir, 'data/api_token'), 'utf8').trim() };
    const ten = (...args: string[]): Promise<string> => run(process.execPath, [join(ROOT, 'bin/ten'), ...args], env);
    const logLines = async (): Promise<number> => {
      const res = await fetch(`${env.TENEMENT_SERVER}/metrics`, { headers: { authorization: `Bearer ${env.TENEMENT_TOKEN}` } });
      const text = await res.text();
      let n = 0;
      for (const m of text.matchAll(/^tenement_log_lines_total\{result="(?:stored|dropped)"\} (\d+)/gm)) n += Number(m[1]);
      return n;
    };
    await ten('spawn', 'app:prod');
    const quiet: number[] = [];
    const flooding: number[] = [];
    const floodRates: number[] = [];
    let errors = 0;
    for (let round = 1; round <= options.rounds; round++) {
      await wrk(port, options.warmupS, options.connections);
      const q = await wrk(port, options.durationS, options.connections);
      quiet.push(q.reqPerS);
      errors += q.errors;
      await ten('spawn', 'flood:loud');
      await wrk(port, options.warmupS, options.connections);
      const linesBefore = await logLines();
      const began = Date.now();
      const f = await wrk(port, options.durationS, options.connections);
      floodRates.push(((await logLines()) - linesBefore) / ((Date.now() - began) / 1000));
      flooding.push(f.reqPerS);
      errors += f.errors;
      await ten('rm', 'flood:loud');
      options.log(`  round ${round}: quiet ${q.reqPerS.toFixed(0)} req/s, flooding ${f.reqPerS.toFixed(0)} req/s (flood ${floodRates.at(-1)!.toFixed(0)} lines/s in)`);
    }
    const quietReqPerS = median(quiet);
    const floodingReqPerS = median(flooding);
    return { quietReqPerS, floodingReqPerS, ratio: floodingReqPerS / quietReqPerS, floodLinesPerS: median(floodRates), errors };
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode === null ? server.once('exit', r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchLogs(options: LogsBenchOptions = {}): Promise<LogsBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const ingestion = await benchIngestion(options.lines ?? 300_000);
  log(`log ingestion: ${ingestion.linesPerS.toFixed(0)} lines/s sustained into SQLite + FTS5 (main event-loop delay meanwhile: p99 ${ingestion.p99LoopDelayMs.toFixed(1)} ms, max ${ingestion.maxLoopDelayMs.toFixed(1)} ms, 10 ms resolution; slowest server write ${ingestion.slowestServerWriteMs.toFixed(1)} ms)`);
  const proxy = await benchProxyUnderFlood({
    durationS: options.durationS ?? 8, warmupS: options.warmupS ?? 2, rounds: options.rounds ?? 3, connections: options.connections ?? 64, log,
  });
  log(`proxy with a tenant flooding logs: ${proxy.floodingReqPerS.toFixed(0)} vs ${proxy.quietReqPerS.toFixed(0)} req/s quiet = ${proxy.ratio.toFixed(2)}× (flood ${proxy.floodLinesPerS.toFixed(0)} lines/s reaching the server; errors ${proxy.errors})`);
  return { ingestion, proxy };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  await benchLogs(quick ? { lines: 100_000, durationS: 4, warmupS: 1, rounds: 1 } : {});
}
