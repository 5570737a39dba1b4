// A front server that drains (the server exits leaving its tenants running) lets every connection
// go without a reset: a request in flight finishes, an idle keep-alive connection gets one more
// request answered with `Connection: close`, then a FIN; one that sends nothing is closed with a FIN
// after the grace; a WebSocket stays up to its bound. A request it must not serve itself (a wake,
// the API) reaches the next server with its body, and gets 503 when none listens.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { RequestStats } from '../core/request-stats.js';
import { APPS, waitFor } from '../../test/helpers/daemon.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { createFrontServer } from './server.js';
import type { FrontServer } from './server.js';

const silent = { warn: () => undefined, error: () => undefined };
const TOML = `[settings]\nport_range = [41000, 41999]\n\n[service.api]\ncommand = "node ${join(APPS, 'proxy-app.mjs')}"\nhealth = "/health"\nstop_timeout = 2\n`;

async function setup(t: TestContext): Promise<{ server: FrontServer; port: number }> {
  const { supervisor } = await startSupervisor(t, TOML);
  await supervisor.spawn('api', 'prod', { wait: true });
  await supervisor.spawn('api', 'nap', { wait: true });
  await supervisor.stop('api', 'nap');
  const server = createFrontServer({ supervisor, domain: 'localhost', stats: new RequestStats(), logger: silent,
    management: (_req, res) => res.end('management of the old server\n') });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { server, port: (server.address() as AddressInfo).port };
}

/** A raw client connection: what it received, whether the server ended it (FIN) or it broke (error). */
class Client {
  readonly socket: Socket;
  text = '';
  ended = false;
  error: string | undefined;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => { this.text += c.toString('latin1'); });
    this.socket.on('end', () => { this.ended = true; });
    this.socket.on('error', (err: NodeJS.ErrnoException) => { this.error = err.code ?? err.message; });
  }

  /** Sends one request and waits for its whole answer (content-length bodies). */
  async ask(request: string): Promise<string> {
    const from = this.text.length;
    this.socket.write(request);
    return waitFor(() => {
      const text = this.text.slice(from);
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
      return end >= 0 && length >= 0 && text.length >= end + 4 + length ? text : undefined;
    }, 15_000, () => `an answer to ${JSON.stringify(request.slice(0, 40))}, got ${JSON.stringify(this.text.slice(from))}`);
  }
}

const get = (host: string, path = '/whoami'): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

test('draining: in-flight and next requests answered with Connection: close, idle connections closed with a FIN, tunnels kept to their bound', async (t) => {
  const { server, port } = await setup(t);
  const idle = new Client(port);
  const silentOne = new Client(port);
  const slow = new Client(port);
  for (const c of [idle, silentOne, slow]) assert.match(await c.ask(get('prod.api.localhost')), /^HTTP\/1\.1 200 /);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'prod.api.localhost' } });
  let wsClosed = false;
  ws.on('close', () => { wsClosed = true; });
  ws.on('error', () => undefined);
  await once(ws, 'open');
  const slowAnswer = slow.ask(get('prod.api.localhost', '/slow?ms=800'));
  await waitFor(() => slow.text.length > 0 || server.routes.instance('api', 'prod')!.handle.openConnections >= 2, 5000, 'the slow request in flight');

  const drained = server.drain({ idleGraceMs: 1000, tunnelMs: 3000 }, { host: '127.0.0.1', port: 1, isRunning: false });
  const next = await idle.ask(get('prod.api.localhost'));
  assert.match(next, /^HTTP\/1\.1 200 /);
  assert.match(next, /connection: close/i);
  const slowText = await slowAnswer;
  assert.match(slowText, /^HTTP\/1\.1 200 [^]*connection: close[^]*"slept":true/i);
  await waitFor(() => idle.ended && slow.ended && silentOne.ended, 10_000, 'the server to end every HTTP connection');
  assert.equal(wsClosed, false, 'the WebSocket outlives the idle grace');
  await waitFor(() => wsClosed, 10_000, 'the WebSocket cut at its bound');
  await drained;
  for (const c of [idle, silentOne, slow]) assert.equal(c.error, undefined, 'ended, never reset');
  assert.equal(silentOne.text.split('HTTP/1.1').length - 1, 1, 'nothing more was sent to the silent one');
});

test('draining: a wake or an API request goes to the next server with its body; a running instance is still served here', async (t) => {
  const { server, port } = await setup(t);
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const nextServer = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.end(`next server: ${req.headers.host}\n`);
    });
  });
  nextServer.listen(0, '127.0.0.1');
  await once(nextServer, 'listening');
  t.after(() => nextServer.close());
  const successor = { host: '127.0.0.1', port: (nextServer.address() as AddressInfo).port, isRunning: true };
  const wake = new Client(port);
  const api = new Client(port);
  const late = new Client(port);
  for (const c of [wake, api, late]) await c.ask(get('prod.api.localhost'));

  const drained = server.drain({ idleGraceMs: 5000, tunnelMs: 5000 }, successor);
  const woken = await wake.ask('POST /echo HTTP/1.1\r\nHost: nap.api.localhost\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello');
  assert.match(woken, /^HTTP\/1\.1 200 [^]*next server: nap\.api\.localhost\n$/);
  const managed = await api.ask(get('localhost', '/api/instances'));
  assert.match(managed, /next server: localhost\n$/);
  assert.deepEqual(seen.map((r) => [r.method, r.url, r.headers.host, r.headers.connection, r.body]), [
    ['POST', '/echo', 'nap.api.localhost', 'close', 'hello'],
    ['GET', '/api/instances', 'localhost', 'close', ''],
  ]);
  // A running instance is still served by the draining server itself.
  assert.match(await late.ask(get('prod.api.localhost')), /"instance":"api:prod"/);
  for (const c of [wake, api]) await waitFor(() => c.ended, 10_000, 'the handed-off connection ended after its answer');
  late.socket.end();
  await drained;
});

test('draining with no next server listening: a request that needs one gets 503 and a FIN', async (t) => {
  const { server, port } = await setup(t);
  const client = new Client(port);
  await client.ask(get('prod.api.localhost'));
  const drained = server.drain({ idleGraceMs: 5000, tunnelMs: 5000 }, { host: '127.0.0.1', port: 1, isRunning: false });
  const answer = await client.ask(get('nap.api.localhost'));
  assert.match(answer, /^HTTP\/1\.1 503 [^]*connection: close/i);
  await waitFor(() => client.ended, 10_000, 'the connection ended');
  assert.equal(client.error, undefined);
  await drained;
});
