import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { RequestStats } from '../observability/request-stats.js';
import { APPS, waitFor } from '../../test/helpers/daemon.js';
import { serviceConfig, TestSupervisor } from '../../test/helpers/proxy-supervisor.js';
import type { TestInstance } from '../../test/helpers/proxy-supervisor.js';
import { createFrontServer } from './server.js';
import type { ServerLimits } from './server.js';

const silent = { warn: () => undefined, error: () => undefined };

/** The proxy fixture app behind the real front server; resolves to the proxy's port. */
async function setup(t: TestContext, limits?: Partial<ServerLimits>): Promise<{ port: number; inst: TestInstance }> {
  const child = spawn(process.execPath, [join(APPS, 'proxy-app.mjs')], { env: { ...process.env, PORT: '0', NAME: 'api:prod' }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  const appPort = await waitFor(() => { const m = /listening on (\d+)/.exec(out); return m ? Number(m[1]) : undefined; }, 10_000, 'fixture app');
  const sup = new TestSupervisor([serviceConfig('api')]);
  const inst = sup.add('api', 'prod', { port: appPort });
  const server = createFrontServer({ supervisor: sup, domain: 'localhost', stats: new RequestStats(), logger: silent, limits,
    management: (_req, res) => res.end('management\n') });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { port: (server.address() as AddressInfo).port, inst };
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
  const { port, inst } = await setup(t);
  const smuggled = 'GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n';
  const vectors = [
    `POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nContent-Length: 0\r\nContent-Length: 52\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\nContent-Length: 52\r\n\r\n${smuggled}`,
    `GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\nHost: other.api.localhost\r\n\r\n`,
  ];
  for (const bytes of vectors) {
    const r = await exchange(port, bytes);
    assert.match(r.text, /^HTTP\/1\.1 400 /, JSON.stringify(bytes.slice(0, 80)));
    assert.equal(count(r.text, 'HTTP/1.1'), 1, 'one answer, then the connection closes');
    assert.ok(r.closed);
  }
  assert.equal(inst.opened, 0, 'no request reached the instance');

  // A malformed chunked body after a valid head: refused, the connection closed, the instance released.
  const bad = await exchange(port, 'POST /echo HTTP/1.1\r\nHost: prod.api.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n');
  assert.ok(bad.closed);
  assert.doesNotMatch(bad.text, /hello/);
  await waitFor(() => inst.openConnections === 0, 5000, 'the refused request to be released');
});

test('pipelined requests are answered in order on one connection, then management is handed to node:http', async (t) => {
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
