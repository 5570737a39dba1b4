// Supervisor figures (issue 2), measured against a real `ten serve`:
// - time to spawn 100 instances of the reference Node app until all are healthy;
// - server memory (RSS) per registered idle instance, with 1,000 and 10,000 registered;
// - readiness-detection overhead: tenement's spawn→ready minus the app's own spawn→"listening",
//   both measured in this run on the same app.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openDb } from '../src/store/db.js';
import { InstanceStore } from '../src/store/instances.js';
import { startDaemon, tempDir, waitFor, type Daemon } from '../test/helpers/daemon.js';

const UPSTREAM_APP = join(dirname(fileURLToPath(import.meta.url)), 'upstream-app.mjs');

const config = (settings = ''): string => `[settings]\nport_range = [41000, 49000]\nhealth_check_interval = 30\n${settings}
[service.app]\ncommand = "node ${UPSTREAM_APP}"\nhealth = "/health"\nidle_timeout = 0\n`;

export interface SupervisorBenchResult {
  spawn100Ms: number;
  rssPerInstanceBytes: Record<number, number>;
  appOwnStartMs: number;
  tenementReadyMs: number;
  readinessOverheadMs: number;
  /** From the app's "listening" line reaching tenement to tenement marking it ready (log times, ms). */
  listeningToReadyMs: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function rssBytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

async function api(d: Daemon, method: string, path: string, body?: object): Promise<unknown> {
  const r = await d.http(path, { method, headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body || 'null');
}

/** The app's own start: spawn → its "listening" line, with nothing else polling it. */
function appOwnStart(): Promise<number> {
  return new Promise((resolveStart, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [UPSTREAM_APP], { env: { ...process.env, PORT: String(49500 + Math.floor(Math.random() * 400)) }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.once('data', () => {
      const ms = performance.now() - started;
      child.kill('SIGKILL');
      resolveStart(ms);
    });
    child.once('error', reject);
  });
}

/** Runs `body` against a real server on a folder of its own (prepared by `prepare`), then cleans up. */
async function withDaemon<T>(body: (d: Daemon) => Promise<T>, prepare?: (dir: string) => void): Promise<T> {
  const dir = tempDir(undefined, 'tenement-bench-sup-');
  try {
    prepare?.(dir);
    const d = await startDaemon(undefined, { dir, config: config() });
    try {
      return await body(d);
    } finally {
      await d.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawn100(): Promise<number> {
  return withDaemon(async (d) => {
    const started = performance.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => api(d, 'POST', '/api/instances', { service: 'app', id: `t${i}` })));
    await waitFor(async () => {
      const list = await api(d, 'GET', '/api/instances') as Array<{ state: string }>;
      return list.filter((i) => i.state === 'running').length === 100;
    }, 120_000, 'all 100 instances running');
    return performance.now() - started;
  });
}

function rssWith(registered: number): Promise<number> {
  return withDaemon(async (d) => {
    // Let boot-time allocation settle, then list once so every lazy structure exists.
    await api(d, 'GET', '/api/instances');
    await new Promise((r) => setTimeout(r, 1000));
    return rssBytes(d.proc.pid!);
  }, (dir) => {
    mkdirSync(join(dir, 'data'), { recursive: true });
    const db = openDb(join(dir, 'data', 'tenement.db'));
    const store = new InstanceStore(db);
    db.transaction(() => {
      for (let i = 0; i < registered; i++) store.insert('app', `t${i}`, 100, 'idle');
    })();
    db.close();
  });
}

interface LogLine { time: string; stream: string; line: string }

/**
 * Per round: the app's own start measured directly (a child of this process, spawn → first
 * stdout), and through tenement from its logs: spawn → the app's "listening" line (as tenement
 * received it) → ready. The last gap is what readiness detection adds.
 */
async function readiness(rounds: number): Promise<{ own: number; tenement: number; listeningToReady: number }> {
  const own: number[] = [];
  const tenement: number[] = [];
  const detection: number[] = [];
  await withDaemon(async (d) => {
    for (let i = 0; i < rounds; i++) {
      own.push(await appOwnStart());
      await api(d, 'POST', '/api/instances', { service: 'app', id: `r${i}`, wait: true });
      const logs = await api(d, 'GET', `/api/logs?id=r${i}&limit=50`) as LogLine[];
      const at = (re: RegExp): number => Date.parse(logs.find((l) => re.test(l.line))?.time ?? '');
      const ready = logs.find((l) => /^ready: ready in/.test(l.line));
      tenement.push(Number(/ready in ([\d.]+) ms/.exec(ready?.line ?? '')?.[1]));
      detection.push(at(/^ready: ready in/) - at(/^listening on/));
      await api(d, 'DELETE', `/api/instances/app:r${i}`);
    }
  });
  return { own: median(own), tenement: median(tenement), listeningToReady: median(detection) };
}

export async function benchSupervisor(options: { rounds?: number } = {}): Promise<SupervisorBenchResult> {
  const spawn100Ms = await spawn100();
  const base = await rssWith(0);
  const rssPerInstanceBytes: Record<number, number> = {};
  for (const n of [1000, 10_000]) rssPerInstanceBytes[n] = Math.max(0, (await rssWith(n)) - base) / n;
  const { own, tenement, listeningToReady } = await readiness(options.rounds ?? 15);
  return { spawn100Ms, rssPerInstanceBytes, appOwnStartMs: own, tenementReadyMs: tenement, readinessOverheadMs: tenement - own, listeningToReadyMs: listeningToReady };
}

export function formatSupervisor(r: SupervisorBenchResult): string {
  return [
    `spawn 100 instances to all-healthy: ${r.spawn100Ms.toFixed(0)} ms`,
    ...Object.entries(r.rssPerInstanceBytes).map(([n, b]) => `server RSS per registered idle instance (${n} registered): ${(b / 1024).toFixed(1)} KiB`),
    `readiness: app's own spawn→listening ${r.appOwnStartMs.toFixed(1)} ms, tenement spawn→ready ${r.tenementReadyMs.toFixed(1)} ms, difference ${r.readinessOverheadMs.toFixed(1)} ms (medians)`,
    `readiness detection: the app's "listening" line → ready ${r.listeningToReadyMs.toFixed(1)} ms (median, log timestamps)`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchSupervisor();
  console.log(formatSupervisor(r));
}
