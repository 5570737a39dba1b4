// The raw fast path before a real supervisor and real instances: request smuggling refused,
// pipelining in order (tenant and management requests on one connection), keep-alive and head timeouts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { RequestStats } from '../core/request-stats.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { InstanceHandle } from '../supervisor/types.js';
import { APPS, waitFor } from '../../test/helpers/daemon.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { createFrontServer } from './server.js';
import type { ServerLimits } from './server.js';

const silent = { warn: () => undefined, error: () => undefined };

/**
 * The front server before a real supervisor whose `api:prod` runs the proxy fixture app. Service
 * "marker" runs log-marker, which prints `request <path>` for each request it gets (not started).
 */
async function setup(t: TestContext, limits?: Partial<ServerLimits>): Promise<{ port: number; supervisor: Supervisor; inst: InstanceHandle }> {
  const service = (name: string, app: string): string => `[service.${name}]\ncommand = "node ${join(APPS, app)}"\nhealth = "/health"\nstop_timeout = 2\n`;
  // Its own slice of port_range, so concurrent test files never race for ports.
  const toml = `[settings]\nport_range = [26000, 27999]\n\n${service('api', 'proxy-app.mjs')}\n${service('marker', 'log-marker.mjs')}`;
  const { supervisor } = await startSupervisor(t, toml);
  await supervisor.spawn('api', 'prod', { wait: true });
  const server = createFrontServer({ supervisor, domain: 'localhost', stats: new RequestStats(), logger: silent, limits,
    management: (_req, res) => res.end('management\n') });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { port: (server.address() as AddressInfo).port, supervisor, inst: supervisor.get('api', 'prod')! };
}

/** Writes raw bytes on one connection and collects everything until the server closes it or `until` matches. */
function exchange(port: number, bytes: string, until?: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 60))}: ${text}`)); }, 10_000);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (until?.(text) === true) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
    socket.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }); });
    socket.on('error', () => undefined);
    socket.write(bytes, 'latin1');
  });
}

const count = (text: string, what: string): number => text.split(what).length - 1;

test('smuggling attempts get 400 and a closed connection; nothing reaches the instance', async (t) => {
  const { port, supervisor, inst } = await setup(t);
  const received: string[] = [];
  supervisor.events.on('output', (e) => { if (e.instance === 'marker:prod' && e.line.startsWith('request ')) received.push(e.line); });
  await supervisor.spawn('marker', 'prod', { wait: true });
  const host = 'Host: prod.marker.localhost\r\n';
  const smuggled = `GET /smuggled HTTP/1.1\r\n${host}\r\n`;
  const vectors = [
    `POST /echo HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Length: ${5 + smuggled.length}\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\n${host}Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\n${host}X: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `GET /whoami HTTP/1.1\r\nHost: prod.marker.localhost\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    `GET /whoami HTTP/1.1\r\n${host}Host: other.marker.localhost\r\n\r\n`,
  ];
  for (const bytes of vectors) {
    const r = await exchange(port, bytes);
    assert.match(r.text, /^HTTP\/1\.1 400 /, JSON.stringify(bytes.slice(0, 80)));
    assert.equal(count(r.text, 'HTTP/1.1'), 1, 'one answer, then the connection closes');
    assert.ok(r.closed);
  }
  // Its output is in order: once it logs a later, valid request, it would have logged any earlier one.
  const after = await exchange(port, `GET /after HTTP/1.1\r\n${host}Connection: close\r\n\r\n`);
  assert.match(after.text, /^HTTP\/1\.1 200 /);
  await waitFor(() => received.includes('request /after'), 5000, 'the valid request in the instance\'s output');
  assert.deepEqual(received, ['request /after'], 'no refused request reached the instance');

  // A malformed chunked body after a valid head: refused, the connection closed, the instance released.
  const bad = await exchange(port, 'POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n');
  assert.ok(bad.closed);
  assert.doesNotMatch(bad.text, /hello/);
  await waitFor(() => inst.openConnections === 0, 5000, 'the refused request to be released');
});

test('pipelined requests are answered in order on one connection, management ones included, each parsed once', async (t) => {
  const { port } = await setup(t);
  const host = 'Host: prod.api.localhost\r\n';
  const bytes = `GET /first HTTP/1.1\r\n${host}\r\n`
    + `POST /echo HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nT: 1\r\n\r\n`
    + `POST /echo HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nhello`
    + `GET /nowhere HTTP/1.1\r\nHost: nobody.api.localhost\r\n\r\n`
    + 'GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n'
    + `GET /last HTTP/1.1\r\n${host}Connection: close\r\n\r\n`;
  const r = await exchange(port, bytes);
  assert.ok(r.closed);
  const order = ['api:prod GET /first', 'abcd', 'efg', 'hello', 'not found', 'management', 'api:prod GET /last'];
  let at = 0;
  for (const piece of order) {
    const i = r.text.indexOf(piece, at);
    assert.ok(i > at, `"${piece}" after position ${at} in:\n${r.text}`);
    at = i;
  }
  assert.equal(count(r.text, 'HTTP/1.1 200 '), 5);
  assert.equal(count(r.text, 'HTTP/1.1 404 '), 1);
});

test('idle keep-alive connections are closed after the keep-alive timeout; slow heads get 408', async (t) => {
  const { port } = await setup(t, { keepAliveTimeout: 300, headersTimeout: 400 });
  const idle = await exchange(port, 'GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
  assert.ok(idle.closed, 'the idle connection was closed by the server');
  assert.equal(count(idle.text, 'HTTP/1.1 200 '), 1);
  const slow = await exchange(port, 'GET /whoami HTTP/1.1\r\nHost: prod');
  assert.match(slow.text, /^HTTP\/1\.1 408 /);
});
