/**
 * Restart under load (issue 13): wrk keep-alive load on two tenants while `ten serve` is restarted
 * (SIGTERM, then a new start at once), measured side by side: no restart (baseline), a restart on
 * a port the server binds itself, and a restart under systemd-style socket activation (the socket
 * held by test/fixtures/socket-holder.mjs), and a take-over (a second ten serve started beside the
 * running one takes its listener and tenants; the old one drains and exits). Reports requests, failed requests (socket errors and
 * non-2xx) and the longest request, and whether the tenants kept their pids.
 * Run after `npm run build`: node --import tsx bench/restart.ts [--quick]
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TEN = join(ROOT, 'bin/ten');
const APP = join(ROOT, 'test/fixtures/apps/ok.mjs');
const HOLDER = join(ROOT, 'test/fixtures/socket-holder.mjs');

const LUA = `
local hosts = { "a.notes.localhost", "b.notes.localhost" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/", { Host = hosts[n % 2 + 1] })
end
`;

export type RestartMode = 'none' | 'bind' | 'socket-activation' | 'take-over';

export interface RestartResult {
  mode: RestartMode;
  requests: number;
  failed: number;
  maxLatencyMs: number;
  samePids: boolean;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((res, rej) => {
    const tick = (): void => {
      if (check()) return res();
      if (Date.now() > until) return rej(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function collect(proc: ChildProcess): () => string {
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  return () => out;
}

function ps(dir: string, port: number): Promise<string> {
  return new Promise((res) => {
    execFile(process.execPath, [TEN, '--server', `http://127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), 'ps', '--json'], (_e, stdout) => {
      const list = JSON.parse(stdout || '[]') as Array<{ instance: string; pid: number }>;
      res(list.map((i) => `${i.instance}=${i.pid}`).join(' '));
    });
  });
}

function parseWrk(out: string): { requests: number; failed: number; maxLatencyMs: number } {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const failed = (socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0)) + non2xx;
  const max = /Latency\s+\S+\s+\S+\s+(\d+(?:\.\d+)?)(us|ms|s)/.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1000 }[max?.[2] ?? 'ms'] ?? 1;
  return { requests, failed, maxLatencyMs: Math.round(Number(max?.[1] ?? 0) * unit * 10) / 10 };
}

async function once(mode: RestartMode, durationS: number): Promise<RestartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-restart-'));
  const config = join(dir, 'tenement.toml');
  writeFileSync(config, `[service.notes]\ncommand = "node ${APP}"\nhealth = "/health"\nidle_timeout = 0\n[instances]\nnotes = ["a", "b"]\n`);
  writeFileSync(join(dir, 'hosts.lua'), LUA);
  const serveArgs = [TEN, 'serve', '--config', config, '--data-dir', join(dir, 'data')];
  let port: number;
  let output: () => string;
  let holder: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  const servers: ChildProcess[] = [];
  const startBound = (extra: string[]): void => {
    server = spawn(process.execPath, [...serveArgs, '--port', String(port), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(server);
    output = collect(server);
  };
  try {
    if (mode === 'socket-activation') {
      holder = spawn(process.execPath, [HOLDER, process.execPath, ...serveArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
      output = collect(holder);
      await waitFor(() => /^port \d+$/m.test(output()), 20_000, 'the socket holder');
      port = Number(/^port (\d+)$/m.exec(output())![1]);
    } else {
      port = await freePort();
      startBound(mode === 'none' ? ['--stop-instances-on-exit'] : []);
    }
    await waitFor(() => /manage it with/.test(output!()), 30_000, 'the server');
    const before = await ps(dir, port);

    const wrk = spawn('wrk', ['-t2', '-c20', `-d${durationS}s`, '--timeout', '10s', '--latency', '-s', join(dir, 'hosts.lua'), `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const wrkOut = collect(wrk);
    const wrkDone = new Promise((res) => wrk.once('exit', res));
    await new Promise((res) => setTimeout(res, (durationS * 1000) / 3));
    if (mode === 'bind') {
      const old = server!;
      old.kill('SIGTERM');
      await new Promise((res) => old.once('exit', res));
      startBound(['--stop-instances-on-exit']);
      await waitFor(() => /manage it with/.test(output!()), 30_000, 'the new server');
    } else if (mode === 'take-over') {
      const old = server!;
      const exited = new Promise((res) => old.once('exit', res));
      startBound(['--stop-instances-on-exit']);
      await waitFor(() => /manage it with/.test(output!()), 30_000, 'the new server');
      await exited;
    } else if (mode === 'socket-activation') {
      const pid = Number(readFileSync(`/proc/${holder!.pid}/task/${holder!.pid}/children`, 'utf8').trim().split(' ')[0]);
      const seen = output!().length;
      process.kill(pid, 'SIGTERM');
      await waitFor(() => /manage it with/.test(output!().slice(seen)), 30_000, 'the new server');
    }
    await wrkDone;
    const after = await ps(dir, port);
    return { mode, ...parseWrk(wrkOut()), samePids: before === after && before !== '' };
  } finally {
    if (holder !== undefined) {
      const pid = Number(readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim().split(' ')[0] || 0);
      if (pid > 0) process.kill(pid, 'SIGTERM');
      await new Promise((res) => holder!.once('exit', res));
    }
    for (const s of servers) {
      if (s.exitCode === null && s.signalCode === null) {
        s.kill('SIGTERM');
        await new Promise((res) => s.once('exit', res));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRestart(options: { durationS?: number; log?: (line: string) => void } = {}): Promise<RestartResult[]> {
  const log = options.log ?? console.log;
  const results: RestartResult[] = [];
  for (const mode of ['none', 'bind', 'socket-activation', 'take-over'] as const) {
    const r = await once(mode, options.durationS ?? 9);
    results.push(r);
    log(`restart ${mode.padEnd(17)} requests ${String(r.requests).padStart(7)}  failed ${String(r.failed).padStart(5)}  longest ${r.maxLatencyMs} ms  same tenant pids: ${r.samePids ? 'yes' : 'no'}`);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchRestart({ durationS: process.argv.includes('--quick') ? 4 : 9 });
}
