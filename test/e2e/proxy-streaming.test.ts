import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import WebSocket from 'ws';
import { assertNoLeak, startDaemon, waitFor } from '../helpers/daemon.js';
import { APP_SERVICE, through, waitForAnswer } from './proxy-helpers.js';

// The test client stands in for a local TLS terminator: its X-Forwarded-For is appended to.
const CONFIG = `
[settings]
trusted_proxies = ["127.0.0.1"]
${APP_SERVICE('api')}
${APP_SERVICE('slow', 'request_timeout = 1')}
[instances]
api = ["prod"]
slow = ["one"]
`;

/** Peak resident memory of a process, in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

test('requests and responses pass through the real server faithfully and streamed', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  await Promise.all([waitForAnswer(d, 'prod.api.localhost'), waitForAnswer(d, 'one.slow.localhost')]);
  const host = 'prod.api.localhost';

  await t.test('headers: Authorization, cookies, X-Forwarded-*, two Set-Cookie', async () => {
    const r = await through(d, `${host}:8080`, '/headers', { headers: { authorization: 'Bearer abc', cookie: 'sid=42', 'x-forwarded-for': '198.51.100.1' } });
    const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
    assert.equal(seen.headers.authorization, 'Bearer abc');
    assert.equal(seen.headers.cookie, 'sid=42');
    assert.equal(seen.headers.host, `${host}:8080`);
    assert.equal(seen.headers['x-forwarded-for'], '198.51.100.1, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-host'], `${host}:8080`);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    const c = await through(d, host, '/cookies');
    assert.deepEqual(c.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
  });

  await t.test('5 MB upload and download arrive intact', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 7);
    const up = await through(d, host, '/upload', { method: 'POST', body });
    assert.deepEqual(JSON.parse(up.body.toString()), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    const down = await through(d, host, '/download?mb=5');
    assert.equal(down.body.length, 5 * 1024 * 1024);
    assert.ok(down.body.every((b, i) => b === (i % (64 * 1024)) % 251), 'download corrupted');
  });

  await t.test('bodies are streamed, not buffered: 64 MB each way leaves the server peak memory well below that', async () => {
    // A first transfer grows the heap and buffer pools once (about 35 MB here); after it, a body
    // that was buffered whole would show up as growth of its own size.
    await through(d, host, '/upload', { method: 'POST', body: Buffer.alloc(16 * 1024 * 1024, 1) });
    await through(d, host, '/download?mb=16');
    const before = peakRss(d.proc.pid!);
    const body = Buffer.alloc(64 * 1024 * 1024, 1);
    const up = await through(d, host, '/upload', { method: 'POST', body });
    assert.equal((JSON.parse(up.body.toString()) as { bytes: number }).bytes, body.length);
    const down = await through(d, host, '/download?mb=64');
    assert.equal(down.body.length, 64 * 1024 * 1024);
    const grew = peakRss(d.proc.pid!) - before;
    assert.ok(grew < 32 * 1024 * 1024, `server peak memory grew by ${(grew / 1048576).toFixed(1)} MB`);
  });

  await t.test('SSE: the first event arrives while the stream is still open', async () => {
    const req = request({ host: '127.0.0.1', port: d.port, path: '/sse', agent: false, headers: { host } });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const [chunk] = (await once(res, 'data')) as [Buffer];
    assert.match(chunk.toString(), /^data: first from api:prod/);
    assert.equal(res.complete, false);
    req.destroy();
  });

  await t.test('WebSocket echo through the proxy', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${d.port}/ws`, { headers: { host } });
    const got: string[] = [];
    ws.on('message', (m) => got.push(m.toString()));
    await once(ws, 'open');
    ws.send('hello there');
    await waitFor(() => got.length >= 2, 5000, () => `two WebSocket messages, got ${JSON.stringify(got)}`);
    assert.deepEqual(got, ['hello from api:prod forwarded', 'hello there']);
    ws.close();
    await once(ws, 'close');
  });

  await t.test('a slow endpoint gets 504 after request_timeout, with a neutral body', async () => {
    const r = await through(d, 'one.slow.localhost', '/slow?ms=10000');
    assert.equal(r.status, 504);
    assert.equal(r.body.toString(), 'gateway timeout\n');
    assertNoLeak(r.body.toString());
  });
});
