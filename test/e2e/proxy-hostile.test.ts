// Hostile tenants and clients against a real `ten serve`: invalid answers from an instance never
// reach a client or stop the server, whatever kind of request they answer (HTTP/1.0, Expect,
// Upgrade); a refused upgrade stays HTTP; Connection cannot strip the framing; close wins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Daemon } from '../helpers/daemon.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { count, openRaw, rawUntilClosed } from '../helpers/raw-http.js';
import { APP_SERVICE, waitForAnswer } from './proxy-helpers.js';

let d: Daemon;

before(async () => {
  d = await startDaemon(undefined, { config: `${APP_SERVICE('app')}
[service.hostile]
command = "node {apps}/hostile-app.mjs"
health = "/health"

[instances]
app = ["prod"]
hostile = ["prod"]
` });
  await waitForAnswer(d, 'prod.app.localhost');
  await waitFor(async () => (await d.http('/health', { host: 'prod.hostile.localhost' }).catch(() => ({ status: 0 }))).status === 200, 20_000, 'the hostile app');
});

after(async () => {
  assert.equal(await d.stop(), 0, `the server exits cleanly after all this:\n${d.output().slice(-2000)}`);
});

const HOSTILE = 'Host: prod.hostile.localhost\r\n';

/** The first answer on a fresh connection to `bytes` (the connection may stay open). */
async function firstAnswer(bytes: string): Promise<string> {
  const conv = await openRaw(d.port);
  conv.send(bytes);
  const text = await conv.until((t) => /\r\n\r\n/.test(t) && (/content-length: (\d+)\r\n/i.test(t) ? t.length >= t.indexOf('\r\n\r\n') + 4 + Number(/content-length: (\d+)\r\n/i.exec(t)![1]) : true));
  conv.socket.destroy();
  return text;
}

test('an invalid header from an instance → 502 on every kind of request; the server and the other tenant go on', async () => {
  const kinds = [
    ['HTTP/1.1', `GET /bad-name HTTP/1.1\r\n${HOSTILE}Connection: close\r\n\r\n`],
    ['HTTP/1.0', 'GET /bad-name HTTP/1.0\r\nHost: prod.hostile.localhost\r\n\r\n'],
    ['Expect', `POST /bad-value HTTP/1.1\r\n${HOSTILE}Expect: 100-continue\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi`],
    ['Upgrade', `GET /bad-name HTTP/1.1\r\n${HOSTILE}Upgrade: websocket\r\nConnection: Upgrade, close\r\n\r\n`],
    ['later on a 1.0 keep-alive connection', 'GET /x HTTP/1.0\r\nHost: prod.hostile.localhost\r\nConnection: keep-alive\r\n\r\nGET /bad-value HTTP/1.0\r\nHost: prod.hostile.localhost\r\n\r\n'],
  ] as const;
  for (const [kind, bytes] of kinds) {
    const text = await rawUntilClosed(d.port, bytes).catch((err: Error) => err.message);
    assert.match(text, /HTTP\/1\.1 502 Bad Gateway\r\n/, `${kind}: ${text}`);
    assert.ok(!text.includes('X Y') && !text.includes('a\x01b'), `${kind}: nothing of the invalid head reached the client`);
    assert.equal(d.proc.exitCode, null, `the server is still running after the ${kind} request`);
    assert.equal((await d.http('/whoami', { host: 'prod.app.localhost' })).status, 200, `the other tenant answers after ${kind}`);
  }
  // The refusal is in the instance's own log.
  const logs = await waitFor(async () => {
    const r = await d.http('/api/logs?service=hostile&stream=event', { headers: { authorization: `Bearer ${d.token}` } });
    return r.body.includes('invalid HTTP response') ? r.body : undefined;
  }, 10_000, 'the bad_response event in the instance log');
  assert.match(logs, /bad_response: answered with an invalid HTTP response \(invalid header (name|value)\); the client got 502/);
});

test('response splitting, control characters and conflicting framing from an instance never reach the client', async () => {
  for (const path of ['/split', '/bad-value', '/cl-te']) {
    const text = await firstAnswer(`GET ${path} HTTP/1.1\r\n${HOSTILE}\r\n`);
    assert.match(text, /^HTTP\/1\.1 502 /, `${path}: ${text}`);
    assert.doesNotMatch(text, /pwn|Set-Cookie/i, path);
    assert.equal(count(text, 'HTTP/1.1 '), 1, `${path}: one answer`);
  }
});

test('an upgrade answered 200 stays HTTP: the next request on that connection is routed again (to the API, not the tenant)', async () => {
  const conv = await openRaw(d.port);
  conv.send(`GET /refuse-upgrade HTTP/1.1\r\n${HOSTILE}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
  await conv.until((t) => t.includes('no upgrade here'));
  conv.send(`GET /api/instances HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${d.token}\r\n\r\n`);
  const text = await conv.until((t) => t.includes('"instance":"hostile:prod"'));
  conv.socket.destroy();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(text, /tenant saw/);
  assert.doesNotMatch(d.output(), /request GET \/api\/instances/, 'the tenant never saw the API request');

  // A real 101 does become a tunnel, bytes both ways.
  const tunnel = await openRaw(d.port);
  tunnel.send(`GET /upgrade HTTP/1.1\r\n${HOSTILE}Upgrade: echo\r\nConnection: Upgrade\r\n\r\n`);
  await tunnel.until((t) => t.includes('\r\n\r\n'));
  assert.match(tunnel.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Upgrade: echo\r\n/i);
  tunnel.send('ping over the tunnel');
  await tunnel.until((t) => t.includes('ping over the tunnel'));
  tunnel.socket.destroy();
});

test('Connection cannot strip Content-Length: the body reaches the instance as the body, never as a second request', async () => {
  const smuggled = 'GET /whoami HTTP/1.1\r\nHost: prod.app.localhost\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';
  const conv = await openRaw(d.port);
  conv.send(`POST /upload HTTP/1.1\r\nHost: prod.app.localhost\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
  const text = await conv.until((t) => t.includes('"sha256"'));
  conv.socket.destroy();
  assert.match(text, new RegExp(`"bytes":${smuggled.length}`), text);
  // The next user of the pooled upstream connection gets its own answer.
  for (let i = 0; i < 5; i++) {
    const r = await d.http('/headers', { host: 'prod.app.localhost' });
    assert.equal(JSON.parse(r.body).url, '/headers');
  }
});

test('close wins over keep-alive in any order: the answer says close and the connection ends', async () => {
  for (const connection of ['Connection: close\r\nConnection: keep-alive', 'Connection: keep-alive, close']) {
    const text = await rawUntilClosed(d.port, `GET /whoami HTTP/1.1\r\nHost: prod.app.localhost\r\n${connection}\r\n\r\nGET /whoami HTTP/1.1\r\nHost: prod.app.localhost\r\n\r\n`);
    assert.equal(count(text, 'HTTP/1.1 200'), 1, `${connection}: only the first request is answered`);
    assert.match(text, /Connection: close\r\n/);
  }
});

test('X-Forwarded-Proto and -For from a client that is not a trusted proxy are replaced, not believed', async () => {
  const r = await d.http('/headers', { host: 'prod.app.localhost', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '6.6.6.6' } });
  const seen = JSON.parse(r.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
});

test('HTTP/1.0 clients and Expect: 100-continue are served by the same front: no chunks to 1.0, 100 before the body', async () => {
  const old = await rawUntilClosed(d.port, 'GET /plain HTTP/1.0\r\nHost: prod.app.localhost\r\n\r\n');
  assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(old, /Transfer-Encoding/i);
  assert.match(old, /\r\n\r\napp:prod GET \/plain\n$/);

  const conv = await openRaw(d.port);
  conv.send('POST /upload HTTP/1.1\r\nHost: prod.app.localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
  await conv.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
  conv.send('hello');
  const text = await conv.until((t) => t.includes('"sha256"'));
  conv.socket.destroy();
  assert.match(text, /HTTP\/1\.1 200 OK[^]*"bytes":5/);
  // Expectations tenement cannot meet are refused.
  assert.match(await rawUntilClosed(d.port, 'POST /upload HTTP/1.1\r\nHost: prod.app.localhost\r\nExpect: tea\r\nContent-Length: 1\r\n\r\nx'), /^HTTP\/1\.1 417 /);
});
