/**
 * Proxy benchmark (issue 3): wrk on loopback against the same minimal Node app directly, through
 * tenement's front server, through nginx (and optionally a node:http + http.Agent proxy), runs
 * interleaved, median of N rounds, with req/s, p50/p99, CPU µs per request and ratios.
 * wrk is pinned to CPU 0, app and proxies to CPU 1. Also wake latency through the real `ten serve`
 * against the app's own spawn-to-listening time. Both measure the built tree (dist/). Run alone
 * after `npm run build`: node --import tsx bench/proxy.ts [--variants] [--quick] [--wake-only] [--no-wake]. TENEMENT_BENCH_BASELINE=<dir with an older
 * build's bin/ and dist/> adds that build as the path "tenement (base)", measured interleaved.
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/net.js';
import { cpuTicks, median, nginxWorker, parseWrk, run, startServe } from './plumbing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** This folder: the reference app (upstream-app.mjs) and the nginx peer (nginx-peer.sh). */
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const HOST_HEADER = 'prod.app.localhost';

export interface ProxyBenchOptions {
  /** Seconds measured per run (default 8). */
  durationS?: number;
  /** Seconds of warm-up before each measured run (default 2). */
  warmupS?: number;
  rounds?: number;
  connections?: number;
  /** Also measure the alternatives: node:http + undici Pool.dispatch, node:http + http.Agent. */
  withVariants?: boolean;
  /** Root of another build (bin/ten, dist/) to measure side by side as "tenement (base)". */
  baselineRoot?: string;
  log?: (line: string) => void;
}

export interface RunFigures {
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU time of the proxy process per request (µs); null for direct. */
  cpuUsPerReq: number | null;
}

export interface ProxyBenchResult {
  /** Median figures per path. */
  paths: Record<string, RunFigures>;
  ratios: { tenementVsDirect: number; tenementVsNginx: number; p50VsNginx: number };
  meetsGoal: boolean;
}

interface Target { name: string; port: number; cpuPid: () => number | null }

/** Both benches run the built `ten serve`: `npm run bench` builds first. */
function requireBuild(root: string): void {
  if (!existsSync(join(root, 'dist/serve.js'))) {
    throw new Error(`${root} is not built (no dist/serve.js): run \`npm run build\` first, or use \`npm run bench -- proxy\`, which builds`);
  }
}

/** Starts a pinned child and waits for its "listening" line. */
async function startPinned(args: string[], env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn('taskset', ['-c', '1', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${args.join(' ')} did not start`)), 20_000);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('listening')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => rej(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  child.stdout!.resume();
  return child;
}

async function wrk(port: number, seconds: number, connections: number): Promise<Omit<RunFigures, 'cpuUsPerReq'> & { requests: number }> {
  const out = await run('taskset', ['-c', '0', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST_HEADER}`, `http://127.0.0.1:${port}/`]);
  return parseWrk(out);
}

export async function benchProxy(options: ProxyBenchOptions = {}): Promise<ProxyBenchResult> {
  const durationS = options.durationS ?? 8;
  const warmupS = options.warmupS ?? 2;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 64;
  const log = options.log ?? ((line: string) => console.log(line));
  requireBuild(ROOT);
  if (options.baselineRoot !== undefined) requireBuild(options.baselineRoot);
  const ticksPerS = Number((await run('getconf', ['CLK_TCK'])).trim()) || 100;

  const children: ChildProcess[] = [];
  let nginxPid: number | null = null;
  const dirs: string[] = [];
  /** `ten serve` from `root`, pinned; resolves to the server and its app:prod instance's port. */
  const startServe = async (root: string, port: number): Promise<{ front: ChildProcess; appPort: number }> => {
    const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-proxy-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'tenement.toml'), appConfig());
    const front = await startPinned([process.execPath, join(root, 'bin/ten'), '--config', join(dir, 'tenement.toml'), '--data-dir', join(dir, 'data'), 'serve', '--port', String(port), ...(root === ROOT ? ['--stop-instances-on-exit'] : [])]);
    children.push(front);
    return { front, appPort: await instancePort(port, readFileSync(join(dir, 'data', 'api_token'), 'utf8').trim()) };
  };
  try {
    const [tenPort, nginxPort, undiciPort, agentPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // The real server, pinned; the instance it spawns inherits CPU 1 and is the app everyone targets.
    const { front, appPort } = await startServe(ROOT, tenPort);
    log(`tenement: ten serve (pid ${front.pid}) → instance app:prod on its own port`);
    nginxPid = Number((await run('taskset', ['-c', '1', join(BENCH_DIR, 'nginx-peer.sh'), 'start', String(nginxPort), String(appPort)])).trim());
    const targets: Target[] = [
      { name: 'direct', port: appPort, cpuPid: () => null },
      { name: 'tenement', port: tenPort, cpuPid: () => front.pid ?? null },
      { name: 'nginx', port: nginxPort, cpuPid: () => nginxWorker(nginxPid!) },
    ];
    if (options.baselineRoot !== undefined) {
      const basePort = await freePort();
      const base = await startServe(options.baselineRoot, basePort);
      targets.splice(2, 0, { name: 'tenement (base)', port: basePort, cpuPid: () => base.front.pid ?? null });
      log(`tenement (base): ${options.baselineRoot} (pid ${base.front.pid}), with its own app:prod`);
    }
    if (options.withVariants === true) {
      const undici = await startPinned([process.execPath, join(ROOT, 'bench/proxy-undici-variant.mjs'), String(undiciPort), String(appPort)]);
      const agent = await startPinned([process.execPath, join(ROOT, 'bench/proxy-agent-variant.mjs'), String(agentPort), String(appPort)]);
      children.push(undici, agent);
      targets.push({ name: 'undici dispatch', port: undiciPort, cpuPid: () => undici.pid ?? null });
      targets.push({ name: 'node http.Agent', port: agentPort, cpuPid: () => agent.pid ?? null });
    }

    const samples = new Map<string, RunFigures[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        await wrk(target.port, warmupS, connections);
        const pid = target.cpuPid();
        const before = cpuTicks(pid);
        const r = await wrk(target.port, durationS, connections);
        const cpuUs = pid === null || r.requests === 0 ? null : ((cpuTicks(pid) - before) / ticksPerS) * 1e6 / r.requests;
        samples.get(target.name)!.push({ reqPerS: r.reqPerS, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, cpuUsPerReq: cpuUs });
        log(`  round ${round} ${target.name.padEnd(16)} ${r.reqPerS.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}${cpuUs === null ? '' : `  cpu ${cpuUs.toFixed(0)} µs/req`}`);
      }
    }

    const paths: Record<string, RunFigures> = {};
    for (const [name, runs] of samples) {
      const cpu = runs.map((r) => r.cpuUsPerReq).filter((v): v is number => v !== null);
      paths[name] = {
        reqPerS: median(runs.map((r) => r.reqPerS)), p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)),
        errors: runs.reduce((n, r) => n + r.errors, 0), cpuUsPerReq: cpu.length > 0 ? median(cpu) : null,
      };
    }
    const direct = paths.direct!;
    const nginx = paths.nginx!;
    const ten = paths.tenement!;
    log(`\nproxy: median of ${rounds} interleaved runs, ${durationS} s each, ${connections} connections (wrk on CPU 0, app and proxies on CPU 1)`);
    log(`${'path'.padEnd(18)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'×direct'.padStart(8)} ${'×nginx'.padStart(7)} ${'cpu µs/req'.padStart(11)} errors`);
    for (const [name, f] of Object.entries(paths)) {
      log(`${name.padEnd(18)} ${f.reqPerS.toFixed(0).padStart(8)} ${f.p50Ms.toFixed(2).padStart(7)} ${f.p99Ms.toFixed(2).padStart(7)} ${(f.reqPerS / direct.reqPerS).toFixed(2).padStart(8)} ${(f.reqPerS / nginx.reqPerS).toFixed(2).padStart(7)} ${(f.cpuUsPerReq === null ? '—' : f.cpuUsPerReq.toFixed(0)).padStart(11)} ${f.errors}`);
    }
    const ratios = { tenementVsDirect: ten.reqPerS / direct.reqPerS, tenementVsNginx: ten.reqPerS / nginx.reqPerS, p50VsNginx: ten.p50Ms / nginx.p50Ms };
    const meetsGoal = ratios.tenementVsNginx >= 0.5 && ratios.p50VsNginx <= 2 && ten.errors === 0;
    log(`tenement vs nginx: ${ratios.tenementVsNginx.toFixed(2)}× req/s (goal ≥ 0.5), p50 ${ratios.p50VsNginx.toFixed(2)}× (goal ≤ 2), errors ${ten.errors}: ${meetsGoal ? 'goal met' : 'goal NOT met'}`);
    return { paths, ratios, meetsGoal };
  } finally {
    for (const child of children) if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
    if (nginxPid !== null) await run(join(BENCH_DIR, 'nginx-peer.sh'), ['stop', String(nginxPid)]).catch(() => undefined);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

function appConfig(): string {
  return `[service.app]\ncommand = "${process.execPath} ${join(BENCH_DIR, 'upstream-app.mjs')}"\nhealth = "/health"\nidle_timeout = 0\n\n[instances]\napp = ["prod"]\n`;
}

/** Waits for app:prod to run under `ten serve` and returns its port. */
async function instancePort(serverPort: number, token: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await httpCall(serverPort, '/api/instances', 'localhost', 'GET', token).catch(() => ({ status: 0, body: '' }));
    if (r.status === 200) {
      const row = (JSON.parse(r.body) as Array<{ instance: string; state: string; port: number | null }>).find((i) => i.instance === 'app:prod');
      if (row?.state === 'running' && row.port !== null) return row.port;
    }
    if (Date.now() > deadline) throw new Error('app:prod did not start under ten serve');
    await new Promise((res) => setTimeout(res, 50));
  }
}

export interface WakeBenchOptions {
  samples?: number;
  log?: (line: string) => void;
}

export interface WakeBenchResult {
  /** Median ms from spawning the app to its own "listening" line. */
  appStartMs: number;
  /** Median ms from a request to a stopped instance to its full response, through `ten serve`. */
  wakeMs: number;
  meetsGoal: boolean;
}

function httpCall(port: number, path: string, host: string, method = 'GET', token?: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers: { host, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => { body += c.toString(); });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', rej);
    req.end();
  });
}

async function timeAppStart(port: number): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(BENCH_DIR, 'upstream-app.mjs')], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('listening')) res(); });
    child.once('exit', (code) => rej(new Error(`app exited with ${code}`)));
  });
  const ms = performance.now() - started;
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  return ms;
}

/** Wake latency through the real server (needs `npm run build`): stop the instance, then time one request. */
export async function benchWake(options: WakeBenchOptions = {}): Promise<WakeBenchResult> {
  requireBuild(ROOT);
  const samples = options.samples ?? 10;
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-wake-'));
  writeFileSync(join(dir, 'tenement.toml'), appConfig());
  const port = await freePort();
  const server = await startServe(dir, port);
  try {
    const token = readFileSync(join(dir, 'data', 'api_token'), 'utf8').trim();
    const host = 'prod.app.localhost';
    while ((await httpCall(port, '/', host).catch(() => ({ status: 0 }))).status !== 200) await new Promise((r) => setTimeout(r, 50));

    const own: number[] = [];
    const wakes: number[] = [];
    for (let i = 0; i < samples; i++) {
      own.push(await timeAppStart(await freePort()));
      const stopped = await httpCall(port, '/api/instances/app:prod/stop', 'localhost', 'POST', token);
      if (stopped.status !== 200) throw new Error(`stop failed: ${stopped.status} ${stopped.body}`);
      const started = performance.now();
      const r = await httpCall(port, '/', host);
      wakes.push(performance.now() - started);
      if (r.status !== 200) throw new Error(`wake request got ${r.status}`);
    }
    const appStartMs = median(own);
    const wakeMs = median(wakes);
    const meetsGoal = wakeMs <= appStartMs + 15;
    log(`\nwake: median of ${samples}: app's own spawn-to-listening ${appStartMs.toFixed(1)} ms; request to a stopped instance answered in ${wakeMs.toFixed(1)} ms (+${(wakeMs - appStartMs).toFixed(1)} ms; goal ≤ +15 ms): ${meetsGoal ? 'goal met' : 'goal NOT met'}`);
    return { appStartMs, wakeMs, meetsGoal };
  } finally {
    server.kill('SIGTERM');
    await new Promise((res) => { if (server.exitCode !== null) res(undefined); else server.once('exit', res); });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const baselineRoot = process.env.TENEMENT_BENCH_BASELINE;
  if (!process.argv.includes('--wake-only')) {
    await benchProxy({ withVariants: process.argv.includes('--variants'), ...(baselineRoot === undefined ? {} : { baselineRoot }), ...(quick ? { durationS: 4, warmupS: 1 } : {}) });
  }
  if (!process.argv.includes('--no-wake')) await benchWake({ samples: quick ? 5 : 10 });
}
