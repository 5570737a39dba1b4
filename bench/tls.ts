/**
 * HTTPS benchmark (issue 10): wrk over TLS (keep-alive, HTTP/1.1) through tenement terminating
 * TLS against nginx terminating TLS in front of the same app, with the same certificate (ECDSA
 * P-256), pinned and interleaved as in bench/proxy.ts (wrk on CPU 0, proxies and app on CPU 1,
 * median of N rounds). Then the time a first handshake takes when its certificate is issued on
 * demand by Pebble, beside a handshake with a certificate already held.
 * Run: npm run bench -- tls [--quick]
 * @module
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/net.js';
import { startPebble } from '../test/helpers/pebble.js';
import { cpuTicks, median, nginxWorker, parseWrk, run, waitForListening } from './plumbing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const APP = join(BENCH_DIR, 'upstream-app.mjs');
const HOST_HEADER = 'prod.app.localhost';

export interface TlsBenchOptions {
  durationS?: number;
  warmupS?: number;
  rounds?: number;
  connections?: number;
  /** First handshakes measured with on-demand issuance. */
  issuances?: number;
  log?: (line: string) => void;
}

interface Figures { reqPerS: number; p50Ms: number; p99Ms: number; errors: number; cpuUsPerReq: number | null }

async function wrk(url: string, seconds: number, connections: number): Promise<Omit<Figures, 'cpuUsPerReq'> & { requests: number; errorDetail: string }> {
  const out = await run('taskset', ['-c', '0', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST_HEADER}`, url]);
  return parseWrk(out);
}

/** `ten serve` pinned to CPU 1; resolves once it prints its listening line. */
async function startServe(dir: string, config: string, httpPort: number, domain: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  writeFileSync(join(dir, 'tenement.toml'), config);
  const child = spawn('taskset', ['-c', '1', process.execPath, join(ROOT, 'bin/ten'), '--config', join(dir, 'tenement.toml'), '--data-dir', join(dir, 'data'),
    'serve', '--port', String(httpPort), '--domain', domain, '--stop-instances-on-exit'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  await waitForListening(child);
  return child;
}

function httpCall(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { host: '127.0.0.1', authorization: `Bearer ${token}` } }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => { body += c.toString(); });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

/** The port of app:prod once it runs (asked over the plain port, as the local CLI does). */
async function instancePort(httpPort: number, dataDir: string): Promise<number> {
  const token = readFileSync(join(dataDir, 'api_token'), 'utf8').trim();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await httpCall(httpPort, '/api/instances', token).catch(() => ({ status: 0, body: '' }));
    const row = r.status === 200 ? (JSON.parse(r.body) as Array<{ instance: string; state: string; port: number | null }>).find((i) => i.instance === 'app:prod') : undefined;
    if (row?.state === 'running' && row.port !== null) return row.port;
    if (Date.now() > deadline) throw new Error('app:prod did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** nginx terminating TLS: one worker, keep-alive pool to the app, as bench/nginx-peer.sh plus `ssl`. */
async function startNginxTls(dir: string, listen: number, upstream: number, cert: string, key: string): Promise<number> {
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;
daemon on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000; keepalive_timeout 120s;
  upstream app { server 127.0.0.1:${upstream}; keepalive 128; keepalive_requests 10000000; keepalive_timeout 120s; }
  server {
    listen 127.0.0.1:${listen} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      add_header Strict-Transport-Security "max-age=31536000" always;
    }
  }
}
`);
  await run('taskset', ['-c', '1', 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir]);
  for (let i = 0; i < 50; i++) {
    try {
      return Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('nginx did not start');
}

/** ms from TCP connect to a finished TLS handshake for `servername` (certificate not verified). */
function handshakeMs(port: number, servername: string): Promise<number> {
  return new Promise((res, rej) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const ms = performance.now() - started;
      socket.destroy();
      res(ms);
    });
    socket.setTimeout(40_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', rej);
  });
}

export async function benchTls(options: TlsBenchOptions = {}): Promise<{ ratio: number; meetsGoal: boolean }> {
  const durationS = options.durationS ?? 8;
  const warmupS = options.warmupS ?? 2;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 64;
  const issuances = options.issuances ?? 8;
  const log = options.log ?? ((line: string) => console.log(line));
  const ticksPerS = Number((await run('getconf', ['CLK_TCK'])).trim()) || 100;
  const dir = mkdtempSync(join(tmpdir(), 'tenement-bench-tls-'));
  const children: ChildProcess[] = [];
  const undo: Array<() => Promise<void> | void> = [];
  let nginxPid: number | null = null;
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    const [httpPort, httpsPort, nginxPort] = [await freePort(), await freePort(), await freePort()];
    const served = join(dir, 'served');
    execFileSync('mkdir', ['-p', served]);
    const front = await startServe(served, `[settings.tls]
enabled = true
domain = "localhost"
https_port = ${httpsPort}
cert_file = "${cert}"
key_file = "${key}"

[service.app]
command = "${process.execPath} ${APP}"
health = "/health"
idle_timeout = 0

[instances]
app = ["prod"]
`, httpPort, 'localhost');
    children.push(front);
    const appPort = await instancePort(httpPort, join(served, 'data'));
    nginxPid = await startNginxTls(join(dir), nginxPort, appPort, cert, key);
    log(`tls: tenement (ten serve, pid ${front.pid}) and nginx (one worker) terminate TLS for the same app:prod, same ECDSA P-256 certificate`);

    const targets = [
      { name: 'direct (plain HTTP)', url: `http://127.0.0.1:${appPort}/`, cpuPid: () => null },
      { name: 'tenement HTTPS', url: `https://localhost:${httpsPort}/`, cpuPid: () => front.pid ?? null },
      { name: 'nginx HTTPS', url: `https://localhost:${nginxPort}/`, cpuPid: () => nginxWorker(nginxPid!) },
    ];
    const samples = new Map<string, Figures[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        await wrk(target.url, warmupS, connections);
        const pid = target.cpuPid();
        const before = cpuTicks(pid);
        const r = await wrk(target.url, durationS, connections);
        const cpu = pid === null || r.requests === 0 ? null : ((cpuTicks(pid) - before) / ticksPerS) * 1e6 / r.requests;
        samples.get(target.name)!.push({ reqPerS: r.reqPerS, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, cpuUsPerReq: cpu });
        log(`  round ${round} ${target.name.padEnd(20)} ${r.reqPerS.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}${r.errors > 0 ? ` (${r.errorDetail})` : ''}${cpu === null ? '' : `  cpu ${cpu.toFixed(0)} µs/req`}`);
      }
    }
    const paths = new Map<string, Figures>();
    for (const [name, runs] of samples) {
      const cpu = runs.map((r) => r.cpuUsPerReq).filter((v): v is number => v !== null);
      paths.set(name, {
        reqPerS: median(runs.map((r) => r.reqPerS)), p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)),
        errors: runs.reduce((n, r) => n + r.errors, 0), cpuUsPerReq: cpu.length > 0 ? median(cpu) : null,
      });
    }
    const nginx = paths.get('nginx HTTPS')!;
    const ten = paths.get('tenement HTTPS')!;
    log(`\nHTTPS: median of ${rounds} interleaved runs, ${durationS} s each, ${connections} keep-alive connections (wrk on CPU 0, app and proxies on CPU 1)`);
    log(`${'path'.padEnd(20)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'×nginx'.padStart(7)} ${'cpu µs/req'.padStart(11)} errors`);
    for (const [name, f] of paths) {
      log(`${name.padEnd(20)} ${f.reqPerS.toFixed(0).padStart(8)} ${f.p50Ms.toFixed(2).padStart(7)} ${f.p99Ms.toFixed(2).padStart(7)} ${(f.reqPerS / nginx.reqPerS).toFixed(2).padStart(7)} ${(f.cpuUsPerReq === null ? '—' : f.cpuUsPerReq.toFixed(0)).padStart(11)} ${f.errors}`);
    }
    const ratio = ten.reqPerS / nginx.reqPerS;
    const meetsGoal = ratio >= 0.5 && ten.errors === 0;
    log(`tenement vs nginx over HTTPS: ${ratio.toFixed(2)}× req/s (goal ≥ 0.5), errors ${ten.errors}: ${meetsGoal ? 'goal met' : 'goal NOT met'}`);

    // First handshakes that wait for an on-demand certificate from Pebble.
    const acmeDir = join(dir, 'acme');
    execFileSync('mkdir', ['-p', acmeDir]);
    const [acmeHttp, acmeHttps] = [await freePort(), await freePort()];
    const pebble = await startPebble((fn) => undo.push(fn), { httpPort: acmeHttp });
    const names = Array.from({ length: issuances }, (_, i) => `s${i + 1}`);
    const services = names.map((n) => `[service.${n}]\ncommand = "${process.execPath} ${APP}"\n`).join('\n');
    const acme = await startServe(acmeDir, `[settings.tls]
enabled = true
domain = "example.test"
https_port = ${acmeHttps}
acme_directory = "${pebble.directory}"

${services}`, acmeHttp, 'example.test', { NODE_EXTRA_CA_CERTS: pebble.caFile });
    children.push(acme);
    const first: number[] = [];
    const held: number[] = [];
    for (const name of names) {
      first.push(await handshakeMs(acmeHttps, `${name}.example.test`));
      held.push(await handshakeMs(acmeHttps, `${name}.example.test`));
    }
    if (pebble.orders() !== issuances) throw new Error(`expected ${issuances} orders, Pebble saw ${pebble.orders()}`);
    log(`\nfirst handshake with on-demand issuance (Pebble, HTTP-01, VA without sleeps): median ${median(first).toFixed(0)} ms of ${issuances} names (min ${Math.min(...first).toFixed(0)}, max ${Math.max(...first).toFixed(0)}); the next handshake for the same name: ${median(held).toFixed(1)} ms`);
    return { ratio, meetsGoal };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
    if (nginxPid !== null) await run('kill', ['-QUIT', String(nginxPid)]).catch(() => undefined);
    for (const fn of undo) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchTls(process.argv.includes('--quick') ? { durationS: 4, warmupS: 1, rounds: 1, issuances: 4 } : {});
}
