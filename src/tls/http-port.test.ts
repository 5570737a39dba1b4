// The plain-HTTP listener beside HTTPS: ACME challenge answers, the local CLI's API, and 308 for
// everything else, over real loopback HTTP.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createHttpPortServer } from './http-port.js';

async function listen(httpsPort: number): Promise<{ port: number; close(): void }> {
  const tokens = new Map([['tok-1', 'tok-1.thumbprint']]);
  const server = createHttpPortServer({
    httpsPort,
    challengeAnswer: (token) => tokens.get(token),
    management: (_req, res) => res.end('management'),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

function get(port: number, path: string, host: string | undefined, method = 'GET'): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers: host === undefined ? {} : { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a known ACME challenge token gets its key authorization; an unknown one 404, never a redirect', async (t) => {
  const s = await listen(443);
  t.after(() => s.close());
  assert.deepEqual(await get(s.port, '/.well-known/acme-challenge/tok-1', 'a.example.com'), { status: 200, location: undefined, body: 'tok-1.thumbprint' });
  assert.equal((await get(s.port, '/.well-known/acme-challenge/other', 'a.example.com')).status, 404);
});

test('other requests are redirected with 308 to the same host and path over https, port shown only when not 443', async (t) => {
  const standard = await listen(443);
  const custom = await listen(8443);
  t.after(() => { standard.close(); custom.close(); });
  assert.deepEqual(await get(standard.port, '/a/b?c=1', 'Alice.Notes.Example.com:80'), { status: 308, location: 'https://alice.notes.example.com/a/b?c=1', body: '' });
  assert.equal((await get(custom.port, '/x', 'example.com', 'POST')).location, 'https://example.com:8443/x');
  assert.equal((await get(standard.port, '/', 'evil.com/@x')).status, 400, 'a Host that would inject into Location');
});

test('a loopback client addressing the server by IP or localhost reaches tenement\'s own handler', async (t) => {
  const s = await listen(443);
  t.after(() => s.close());
  for (const host of ['127.0.0.1', `127.0.0.1:${s.port}`, 'localhost', '[::1]']) {
    assert.deepEqual(await get(s.port, '/api/instances', host), { status: 200, location: undefined, body: 'management' }, host);
  }
});

test('a WebSocket upgrade over plain HTTP is redirected too', async (t) => {
  const s = await listen(443);
  t.after(() => s.close());
  const socket = connect(s.port, '127.0.0.1');
  socket.write('GET /ws HTTP/1.1\r\nHost: alice.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  let answer = '';
  for await (const chunk of socket) answer += (chunk as Buffer).toString();
  assert.match(answer, /^HTTP\/1\.1 308 Permanent Redirect\r\nlocation: https:\/\/alice\.example\.com\/ws\r\n/);
});
