/**
 * Chaos soak (issue 9): `ten serve` (the built tree) under keep-alive load on two tenants for about
 * a minute, loopback only, every loop bounded in time. While wrk loads the healthy tenant and the
 * broken one (which answers invalid heads), a script SIGKILLs the broken tenant's processes at
 * random, sends malformed requests and holds slow heads. Reported: the server never exited, the
 * healthy tenant got only 2xx, errors fell on the broken tenant alone, and the server's RSS after
 * the load against its start.
 * @module
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/net.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const APPS = join(ROOT, 'test/fixtures/apps');

export interface SoakOptions {
  /** Seconds of load (default 60). */
  durationS?: number;
  log?: (line: string) => void;
}

export interface SoakResult {
  serverExited: boolean;
  healthy: { requests: number; non2xx: number; socketErrors: number };
  broken: { requests: number; non2xx: number; socketErrors: number };
  kills: number;
  malformed: Record<string, number>;
  slowHeads: Record<string, number>;
  rssStartMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
}

/** Requests no proxy should pass on: each must get a 4xx (or a close), never reach a tenant. */
const MALFORMED = [
  'POST / HTTP/1.1\r\nHost: good.localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: good.localhost\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: good.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: good.localhost\r\nX-A: a\r\n folded\r\n\r\n',
  'GET / HTTP/1.1\nHost: good.localhost\n\n',
  `GET / HTTP/1.1\r\nHost: good.localhost\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
  'GET / HTTP/1.1\r\nHost: good.localhost\r\nHost: broken.localhost\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: good.localhost\r\nContent-Length: 1, 2\r\n\r\nxx',
  'GET / HTTP/1.1\r\nHost: good.localhost\r\nExpect: tea\r\n\r\n',
  '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n',
  'GET /\x00 HTTP/1.1\r\nHost: good.localhost\r\n\r\n',
];

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

function api(port: number, token: string, path: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000, headers: { host: 'localhost', authorization: `Bearer ${token}` } }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => { body += c.toString(); });
      r.on('end', () => res(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

interface Row { instance: string; service: string; state: string; pid: number | null }

async function instances(port: number, token: string): Promise<Row[]> {
  return JSON.parse(await api(port, token, '/api/instances')) as Row[];
}

/** wrk for `seconds` against one tenant; `paths` cycled by a Lua script. */
function wrk(port: number, host: string, paths: string[], seconds: number, dir: string): Promise<{ requests: number; non2xx: number; socketErrors: number }> {
  const script = join(dir, `${host}.lua`);
  writeFileSync(script, `local paths = {${paths.map((p) => JSON.stringify(p)).join(', ')}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i], { ["Host"] = "${host}" })\nend\n`);
  return new Promise((res, rej) => execFile('wrk', ['-t1', '-c16', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}/`], { timeout: (seconds + 30) * 1000 }, (err, out) => {
    if (err !== null) return rej(err);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    res({
      requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
      socketErrors: sock === null ? 0 : Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]),
    });
  }));
}

/** Sends `bytes` on a new connection; resolves to the first status line's code ('closed' without one). */
function oneShot(port: number, bytes: string | Buffer, timeoutMs: number): Promise<string> {
  return new Promise((res) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => { text += c.toString('latin1'); });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      res(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'closed');
    });
    socket.write(bytes);
  });
}

/** A head dripped one byte per 500 ms until the server answers or closes. */
function slowHead(port: number, deadline: number): Promise<string> {
  return new Promise((res) => {
    const socket = connect(port, '127.0.0.1');
    const bytes = `GET / HTTP/1.1\r\nHost: good.localhost\r\nX-Slow: ${'s'.repeat(200)}`;
    let i = 0;
    let text = '';
    const drip = setInterval(() => {
      if (Date.now() > deadline + 15_000) socket.destroy();
      else socket.write(bytes[i++ % bytes.length]!);
    }, 500);
    socket.on('data', (c: Buffer) => { text += c.toString('latin1'); });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      res(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'closed');
    });
  });
}

const tally = (into: Record<string, number>, key: string): void => void (into[key] = (into[key] ?? 0) + 1);

export async function benchSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const durationS = options.durationS ?? 60;
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-soak-'));
  const port = await freePort();
  writeFileSync(join(dir, 'tenement.toml'), `[settings]
max_restarts = 1000000
restart_window = 1
backoff_base_ms = 50
backoff_max_ms = 200
health_check_interval = 1

[service.good]
command = "${process.execPath} ${join(APPS, 'proxy-app.mjs')}"
health = "/health"
idle_timeout = 0

[service.broken]
command = "${process.execPath} ${join(APPS, 'hostile-app.mjs')}"
health = "/health"
idle_timeout = 0
restart = "always"

[instances]
good = ["a", "b"]
broken = ["x", "y"]
`);
  let server: ChildProcess | undefined;
  try {
    server = spawn(process.execPath, [join(ROOT, 'bin/ten'), '--config', join(dir, 'tenement.toml'), '--data-dir', join(dir, 'data'), 'serve', '--port', String(port), '--stop-instances-on-exit'], { stdio: ['ignore', 'ignore', 'inherit'] });
    let exited = false;
    server.once('exit', () => { exited = true; });
    const pid = server.pid!;
    const started = Date.now();
    let token = '';
    for (;;) {
      try {
        token ||= readFileSync(join(dir, 'data', 'api_token'), 'utf8').trim();
        const rows = await instances(port, token);
        if (rows.length === 4 && rows.every((r) => r.state === 'running')) break;
      } catch { /* not up yet */ }
      if (exited || Date.now() - started > 30_000) throw new Error('ten serve did not start its four instances');
      await new Promise((r) => setTimeout(r, 100));
    }
    const rssStartMb = rssMb(pid);
    let rssPeakMb = rssStartMb;
    log(`soak: ${durationS} s; ten serve pid ${pid}, RSS at start ${rssStartMb.toFixed(1)} MB`);
    const deadline = Date.now() + durationS * 1000;

    const loads = Promise.all([
      wrk(port, 'good.localhost', ['/whoami', '/health', '/cookies'], durationS, dir),
      wrk(port, 'broken.localhost', ['/bad-name', '/split', '/fine', '/cl-te', '/bad-value'], durationS, dir),
    ]);
    let kills = 0;
    const killer = (async () => {
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 400));
        const victims = (await instances(port, token).catch(() => [])).filter((r) => r.service === 'broken' && r.pid !== null);
        const victim = victims[Math.floor(Math.random() * victims.length)];
        if (victim?.pid != null) {
          try {
            process.kill(victim.pid, 'SIGKILL');
            kills++;
          } catch { /* already gone */ }
        }
      }
    })();
    const malformed: Record<string, number> = {};
    const attacker = (async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        tally(malformed, await oneShot(port, Buffer.from(MALFORMED[i % MALFORMED.length]!, 'latin1'), 5000));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const slowHeads: Record<string, number> = {};
    const loris = Promise.all(Array.from({ length: 20 }, async () => {
      while (Date.now() < deadline) tally(slowHeads, await slowHead(port, deadline));
    }));
    const sampler = setInterval(() => { if (!exited) rssPeakMb = Math.max(rssPeakMb, rssMb(pid)); }, 500);
    const [healthy, broken] = await loads;
    await Promise.all([killer, attacker, loris]);
    clearInterval(sampler);

    // Let the server settle (idle keep-alive connections close, GC runs), then read its RSS.
    let rssAfterMb = rssMb(pid);
    const settleBy = Date.now() + 30_000;
    while (!exited && rssAfterMb - rssStartMb > 20 && Date.now() < settleBy) {
      await new Promise((r) => setTimeout(r, 1000));
      rssAfterMb = rssMb(pid);
    }
    const result: SoakResult = { serverExited: exited, healthy, broken, kills, malformed, slowHeads, rssStartMb, rssPeakMb, rssAfterMb };
    const fmt = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k}×${v}`).join(' ');
    log(`healthy tenant: ${healthy.requests} requests, non-2xx ${healthy.non2xx}, socket errors ${healthy.socketErrors}`);
    log(`broken tenant:  ${broken.requests} requests, non-2xx ${broken.non2xx}, socket errors ${broken.socketErrors}`);
    log(`chaos: ${kills} SIGKILLs of broken instances; malformed requests answered ${fmt(malformed)}; slow heads ended ${fmt(slowHeads)}`);
    log(`server: ${exited ? 'EXITED during the soak' : 'never exited'}; RSS start ${rssStartMb.toFixed(1)} MB, peak ${rssPeakMb.toFixed(1)} MB, after ${rssAfterMb.toFixed(1)} MB (${(rssAfterMb - rssStartMb).toFixed(1)} MB over start)`);
    const ok = !exited && healthy.non2xx === 0 && healthy.socketErrors === 0 && rssAfterMb - rssStartMb <= 20;
    log(`verdict: ${ok ? 'PASS' : 'FAIL'} (server up, healthy tenant all 2xx, RSS within 20 MB of start)`);
    return result;
  } finally {
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
