// The front server before a real supervisor and real instances of the proxy fixture app: Host
// routing and weights, headers, streaming, SSE, WebSocket, timeouts, wake, failures, client limits.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { RequestStats } from '../core/request-stats.js';
import type { InstanceHandle, SupervisorApi } from '../supervisor/types.js';
import { APPS, assertNoLeak, waitFor } from '../../test/helpers/daemon.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { createFrontServer } from './server.js';
import type { FrontServer, ServerLimits } from './server.js';

const APP = join(APPS, 'proxy-app.mjs');
const silent = { warn: () => undefined, error: () => undefined };

/** Settings for this file: its own slice of port_range, so concurrent test files never race for ports. */
function configText(services: string, routing = ''): string {
  return `[settings]\nport_range = [24000, 25999]\n\n${services}\n${routing}`;
}

/** A service running the proxy fixture app (idle_timeout left at its 300 s default). */
function service(name: string, extra = ''): string {
  return `[service.${name}]\ncommand = "node ${APP}"\nhealth = "/health"\nstop_timeout = 2\n${extra}\n`;
}

async function startProxy(t: TestContext, supervisor: SupervisorApi, limits?: Partial<ServerLimits>): Promise<{ server: FrontServer; port: number }> {
  const server = createFrontServer({ supervisor, domain: 'localhost', stats: new RequestStats(), logger: silent, limits,
    management: (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('management\n'); } });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { server, port: (server.address() as AddressInfo).port };
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; rawHeaders: string[]; body: Buffer }

function call(port: number, host: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: { host, ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * POSTs the first part of a body to `host`, SIGKILLs the instance (pid) once the proxy has the
 * request under way to it, and resolves to the proxy's answer.
 */
async function uploadWhileKilled(port: number, host: string, inst: InstanceHandle, pid: number): Promise<Reply> {
  const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false, headers: { host, 'content-length': String(1024 * 1024) } });
  const answer = new Promise<Reply>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.write(Buffer.alloc(64 * 1024, 'x'));
  await waitFor(() => inst.openConnections === 1, 5000, 'the upload to be forwarded');
  process.kill(pid, 'SIGKILL');
  const reply = await answer;
  req.destroy();
  return reply;
}

/** One running instance `api:prod` of the proxy fixture app behind the front server. */
async function oneApp(t: TestContext, extra = '', limits?: Partial<ServerLimits>): Promise<{ port: number; inst: InstanceHandle }> {
  const { supervisor } = await startSupervisor(t, configText(service('api', extra)));
  await supervisor.spawn('api', 'prod', { wait: true });
  const { port } = await startProxy(t, supervisor, limits);
  return { port, inst: supervisor.get('api', 'prod')! };
}

test('routes by Host: instance, weighted service, overrides, bare domain; everything else 404 without leaks', async (t) => {
  const routing = '[routing]\ndefault = "web"\n[routing.subdomain]\nadmin = "api"\n[routing.path]\n"/app" = "api"\n';
  const { supervisor } = await startSupervisor(t, configText(service('api') + service('web'), routing));
  const [a, b, w] = await Promise.all([
    supervisor.spawn('api', 'a', { weight: 80, wait: true }),
    supervisor.spawn('api', 'b', { weight: 20, wait: true }),
    supervisor.spawn('web', 'one', { wait: true }),
  ]);
  const { port } = await startProxy(t, supervisor);

  const cases: Array<[string, string, number, string]> = [
    ['a.api.localhost', '/x', 200, 'api:a GET /x'],
    ['B.API.localhost:9999', '/x', 200, 'api:b GET /x'],
    ['localhost', '/', 200, 'web:one GET /'],
    ['localhost', '/app/x?q=1', 200, 'api:'],
    ['localhost', '/apple', 200, 'web:one GET /apple'],
    ['127.0.0.1', '/health', 200, 'management'],
    ['localhost', '/api/instances', 200, 'management'],
    ['localhost', '/metrics', 200, 'management'],
    ['admin.localhost', '/', 200, 'api:'],
    ['nobody.api.localhost', '/', 404, 'not found'],
    ['api.example.com', '/', 404, 'not found'],
    ['x.y.api.localhost', '/', 404, 'not found'],
    ['bad_.api.localhost', '/', 404, 'not found'],
    ['nosuch.localhost', '/', 404, 'not found'],
  ];
  for (const [host, path, status, text] of cases) {
    const r = await call(port, host, path);
    assert.equal(r.status, status, `${host}${path}`);
    assert.ok(r.body.toString().startsWith(text), `${host}${path} → ${r.body.toString()}`);
    if (status === 404) assertNoLeak(r.body.toString(), { ports: [a.port!, b.port!, w.port!], pids: [a.pid!, b.pid!, w.pid!] });
  }

  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 1000; i++) {
    const r = await call(port, 'api.localhost', '/');
    counts[r.body.toString().startsWith('api:a') ? 'a' : 'b']++;
  }
  assert.ok(Math.abs(counts.a / 10 - 80) <= 6, `80/20 weights gave ${counts.a}/${counts.b}`);

  supervisor.setWeight('api', 'a', 0);
  for (let i = 0; i < 50; i++) assert.match((await call(port, 'api.localhost', '/')).body.toString(), /^api:b /);
  assert.match((await call(port, 'a.api.localhost', '/')).body.toString(), /^api:a /, 'direct routing ignores weight 0');
});

test('headers pass both ways: Authorization, cookies, two Set-Cookie, X-Forwarded-* (from a trusted proxy); hop-by-hop dropped', async (t) => {
  const { supervisor } = await startSupervisor(t, `[settings]\nport_range = [24000, 25999]\ntrusted_proxies = ["10.0.0.0/8", "127.0.0.1"]\n\n${service('api')}`);
  await supervisor.spawn('api', 'prod', { wait: true });
  const { port } = await startProxy(t, supervisor);
  const r = await call(port, 'prod.api.localhost:8080', '/headers', { headers: {
    authorization: 'Bearer secret', cookie: 'sid=1; theme=dark', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https',
    connection: 'keep-alive, x-hop', 'x-hop': 'gone', 'proxy-authorization': 'Basic x', 'x-custom': 'kept',
  } });
  const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
  assert.equal(seen.headers.authorization, 'Bearer secret');
  assert.equal(seen.headers.cookie, 'sid=1; theme=dark');
  assert.equal(seen.headers.host, 'prod.api.localhost:8080');
  assert.equal(seen.headers['x-custom'], 'kept');
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-host'], 'prod.api.localhost:8080');
  assert.equal(seen.headers['x-forwarded-proto'], 'https', 'a trusted proxy terminated TLS');
  assert.equal(seen.headers['x-hop'], undefined);
  assert.equal(seen.headers['proxy-authorization'], undefined);

  const c = await call(port, 'prod.api.localhost', '/cookies');
  assert.deepEqual(c.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
  assert.equal(c.headers['www-authenticate'], 'Bearer realm="x"');
});

test('5 MB upload and download stream through intact', async (t) => {
  const { port } = await oneApp(t);
  const upload = Buffer.alloc(5 * 1024 * 1024, 'x');
  const up = await call(port, 'prod.api.localhost', '/upload', { method: 'POST', body: upload, headers: { 'content-type': 'application/octet-stream' } });
  assert.deepEqual(JSON.parse(up.body.toString()), { bytes: upload.length, sha256: createHash('sha256').update(upload).digest('hex') });

  const down = await call(port, 'prod.api.localhost', '/download?mb=5');
  assert.equal(down.status, 200);
  assert.equal(down.body.length, 5 * 1024 * 1024);
  assert.ok(down.body.every((byte, i) => byte === (i % (64 * 1024)) % 251), 'downloaded bytes differ');

  const echo = await call(port, 'prod.api.localhost', '/echo', { method: 'POST', body: 'chunked body', headers: { 'transfer-encoding': 'chunked' } });
  assert.equal(echo.body.toString(), 'chunked body');
});

test('SSE events arrive as sent, the stream counts as an open connection, closing it releases the instance', async (t) => {
  const { port, inst } = await oneApp(t);
  const req = request({ host: '127.0.0.1', port, path: '/sse', agent: false, headers: { host: 'prod.api.localhost' } });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  assert.equal(res.headers['content-type'], 'text/event-stream');
  const [first] = (await once(res, 'data')) as [Buffer];
  assert.match(first.toString(), /^data: first from api:prod/);
  assert.equal(inst.openConnections, 1);
  req.destroy();
  await waitFor(() => inst.openConnections === 0, 5000, 'the SSE connection to be released');
});

test('WebSocket upgrades are tunnelled and echo', async (t) => {
  const { port, inst } = await oneApp(t);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'prod.api.localhost' } });
  t.after(() => ws.terminate());
  const messages: string[] = [];
  ws.on('message', (m) => messages.push(m.toString()));
  await once(ws, 'open');
  ws.send('ping');
  await waitFor(() => messages.length >= 2, 5000, 'echo');
  assert.deepEqual(messages, ['hello from api:prod forwarded', 'ping']);
  assert.equal(inst.openConnections, 1);
  ws.close();
  await waitFor(() => inst.openConnections === 0, 5000, 'the tunnel to be released');
});

test('a slow instance gets 504 after request_timeout; an instance dying mid-body cuts the response', async (t) => {
  const { port } = await oneApp(t, 'request_timeout = 0.3');
  const slow = await call(port, 'prod.api.localhost', '/slow?ms=5000');
  assert.equal(slow.status, 504);
  assert.equal(slow.body.toString(), 'gateway timeout\n');
  await assert.rejects(call(port, 'prod.api.localhost', '/abort'));
});

test('a client that leaves cancels the upstream request', async (t) => {
  const { port, inst } = await oneApp(t);
  const req = request({ host: '127.0.0.1', port, path: '/slow?ms=10000', agent: false, headers: { host: 'prod.api.localhost' } });
  req.on('error', () => undefined);
  req.end();
  await waitFor(() => inst.openConnections === 1, 5000, 'the request to reach the instance');
  req.destroy();
  await waitFor(() => inst.openConnections === 0, 5000, 'the aborted request to be released');
});

test('an idle instance is woken through ensureReady and every waiting request answered; unreachable ones fall back or get 502/503', async (t) => {
  // "api" never restarts a crashed instance, so one that dies stays out of the picks.
  const { supervisor, lifecycle } = await startSupervisor(t, configText(service('sleepy', 'idle_timeout = 0.3') + service('api', 'restart = "never"')));
  const [, dead, other] = await Promise.all([
    supervisor.spawn('sleepy', 'one', { wait: true }),
    supervisor.spawn('api', 'dead', { wait: true }),
    supervisor.spawn('api', 'other', { wait: true }),
  ]);
  const { port } = await startProxy(t, supervisor);

  const sleepy = supervisor.get('sleepy', 'one')!;
  await waitFor(() => sleepy.state === 'idle' && supervisor.info('sleepy', 'one').pid === null, 10_000, 'the instance to idle');
  const replies = await Promise.all(Array.from({ length: 20 }, () => call(port, 'one.sleepy.localhost', '/whoami')));
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
  assert.ok(lifecycle.filter((e) => e.instance === 'sleepy:one' && e.kind === 'wake').length >= 1);

  // The instance dies while a request body is on its way: that request cannot be resent.
  const gone = await uploadWhileKilled(port, 'dead.api.localhost', supervisor.get('api', 'dead')!, dead.pid!);
  assert.equal(gone.status, 502);
  assertNoLeak(gone.body.toString(), { ports: [dead.port!], pids: [dead.pid!] });
  await waitFor(() => supervisor.info('api', 'dead').state === 'failed', 10_000, 'the crashed instance to be failed');
  assert.equal((await call(port, 'dead.api.localhost', '/')).status, 503);

  // An instance killed the moment before: requests picked for it go to the other one.
  const doomed = await supervisor.spawn('api', 'doomed', { wait: true });
  process.kill(doomed.pid!, 'SIGKILL');
  const picked = await Promise.all(Array.from({ length: 10 }, () => call(port, 'api.localhost', '/')));
  for (const r of picked) assert.match(r.body.toString(), /^api:other /);
  assert.equal(supervisor.info('api', 'other').pid, other.pid, 'the other instance kept running');

  await supervisor.spawn('api', 'held', { wait: true });
  await supervisor.stop('api', 'held', { hold: true });
  assert.equal((await call(port, 'held.api.localhost', '/')).status, 503);
});

test('a slow-loris client is cut off after the head timeout while others are served; oversized heads are refused', async (t) => {
  const { port } = await oneApp(t, '', { headersTimeout: 300 });
  const loris = connect(port, '127.0.0.1');
  t.after(() => loris.destroy());
  let answer = '';
  loris.on('data', (c: Buffer) => { answer += c.toString(); });
  loris.write('GET / HTTP/1.1\r\nHost: prod.api.localhost\r\nX-Slow: ');
  const drip = setInterval(() => loris.write('a'), 50);
  t.after(() => clearInterval(drip));
  assert.equal((await call(port, 'prod.api.localhost', '/')).status, 200);
  await once(loris, 'close');
  clearInterval(drip);
  assert.match(answer, /^HTTP\/1\.1 408 /);
  const huge = await call(port, 'prod.api.localhost', '/', { headers: { 'x-big': 'a'.repeat(32 * 1024) } });
  assert.equal(huge.status, 431);
});
