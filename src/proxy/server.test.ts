import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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
import { RequestStats } from '../observability/request-stats.js';
import { APPS, assertNoLeak, waitFor } from '../../test/helpers/daemon.js';
import { serviceConfig, TestSupervisor } from '../../test/helpers/proxy-supervisor.js';
import type { TestInstance } from '../../test/helpers/proxy-supervisor.js';
import { createFrontServer } from './server.js';
import type { FrontServer, ServerLimits } from './server.js';

const APP = join(APPS, 'proxy-app.mjs');
const silent = { warn: () => undefined, error: () => undefined };

/** Starts the proxy fixture app directly; resolves to its port and pid. */
async function startApp(t: TestContext, name: string): Promise<{ port: number; pid: number }> {
  const child = spawn(process.execPath, [APP], { env: { ...process.env, PORT: '0', NAME: name }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  const port = await waitFor(() => { const m = /listening on (\d+)/.exec(out); return m ? Number(m[1]) : undefined; }, 10_000, 'fixture app');
  return { port, pid: child.pid! };
}

async function startProxy(t: TestContext, supervisor: TestSupervisor, limits?: Partial<ServerLimits>): Promise<{ server: FrontServer; port: number }> {
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

async function oneApp(t: TestContext, overrides: Parameters<typeof serviceConfig>[1] = {}): Promise<{ port: number; inst: TestInstance; sup: TestSupervisor; app: { port: number; pid: number } }> {
  const app = await startApp(t, 'api:prod');
  const sup = new TestSupervisor([serviceConfig('api', overrides)]);
  const inst = sup.add('api', 'prod', { port: app.port });
  const { port } = await startProxy(t, sup);
  return { port, inst, sup, app };
}

test('routes by Host: instance, weighted service, overrides, bare domain; everything else 404 without leaks', async (t) => {
  const [a, b, w] = await Promise.all([startApp(t, 'api:a'), startApp(t, 'api:b'), startApp(t, 'web:one')]);
  const sup = new TestSupervisor([serviceConfig('api'), serviceConfig('web')], { default: 'web', subdomain: { admin: 'api' }, path: { '/app': 'api' } });
  sup.add('api', 'a', { port: a.port, weight: 80 });
  sup.add('api', 'b', { port: b.port, weight: 20 });
  sup.add('web', 'one', { port: w.port });
  const { port } = await startProxy(t, sup);

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
    if (status === 404) assertNoLeak(r.body.toString(), { ports: [a.port, b.port, w.port], pids: [a.pid, b.pid, w.pid] });
  }

  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 1000; i++) {
    const r = await call(port, 'api.localhost', '/');
    counts[r.body.toString().startsWith('api:a') ? 'a' : 'b']++;
  }
  assert.ok(Math.abs(counts.a / 10 - 80) <= 6, `80/20 weights gave ${counts.a}/${counts.b}`);

  sup.get('api', 'a')!.setWeight(0);
  for (let i = 0; i < 50; i++) assert.match((await call(port, 'api.localhost', '/')).body.toString(), /^api:b /);
  assert.match((await call(port, 'a.api.localhost', '/')).body.toString(), /^api:a /, 'direct routing ignores weight 0');
});

test('headers pass both ways: Authorization, cookies, two Set-Cookie, X-Forwarded-*; hop-by-hop dropped', async (t) => {
  const { port } = await oneApp(t);
  const r = await call(port, 'prod.api.localhost:8080', '/headers', { headers: {
    authorization: 'Bearer secret', cookie: 'sid=1; theme=dark', 'x-forwarded-for': '203.0.113.7',
    connection: 'keep-alive, x-hop', 'x-hop': 'gone', 'proxy-authorization': 'Basic x', 'x-custom': 'kept',
  } });
  const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
  assert.equal(seen.headers.authorization, 'Bearer secret');
  assert.equal(seen.headers.cookie, 'sid=1; theme=dark');
  assert.equal(seen.headers.host, 'prod.api.localhost:8080');
  assert.equal(seen.headers['x-custom'], 'kept');
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-host'], 'prod.api.localhost:8080');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
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
  const { port } = await oneApp(t, { requestTimeoutMs: 300 });
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
  const app = await startApp(t, 'api:sleepy');
  const other = await startApp(t, 'api:other');
  const sup = new TestSupervisor([serviceConfig('api', { startupTimeoutMs: 500 })]);
  const sleepy = sup.add('api', 'sleepy', { state: 'idle', port: null });
  let wakes = 0;
  sleepy.wake = async () => {
    wakes++;
    await new Promise((r) => setTimeout(r, 100));
    sleepy.setState('running', app.port);
  };
  const { port } = await startProxy(t, sup);
  const replies = await Promise.all(Array.from({ length: 20 }, () => call(port, 'sleepy.api.localhost', '/whoami')));
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
  assert.ok(wakes >= 1);

  const dead = sup.add('api', 'dead', { port: 1 });
  const gone = await call(port, 'dead.api.localhost', '/');
  assert.equal(gone.status, 502);
  assertNoLeak(gone.body.toString(), { ports: [1] });

  sup.add('api', 'other', { port: other.port });
  sleepy.setWeight(0);
  dead.setWeight(100);
  for (let i = 0; i < 10; i++) assert.match((await call(port, 'api.localhost', '/')).body.toString(), /^api:other /);

  sup.add('api', 'held', { state: 'held', port: null });
  assert.equal((await call(port, 'held.api.localhost', '/')).status, 503);
});

test('a slow-loris client is cut off after the head timeout while others are served; oversized heads are refused', async (t) => {
  const app = await startApp(t, 'api:prod');
  const sup = new TestSupervisor([serviceConfig('api')]);
  sup.add('api', 'prod', { port: app.port });
  const { port } = await startProxy(t, sup, { headersTimeout: 300 });
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
