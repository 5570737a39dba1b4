// The management API under abuse: bodies over 1 MiB get 413 with the JSON error body (not a reset),
// event and log streams are capped, and a stream client that stops reading is dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';

const BODY_CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
`;

const STREAM_CONFIG = `
[settings]
max_sse_clients = 2

[service.flood]
command = "node {apps}/log-flood.mjs"
health = "/health"
`;

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** POST /api/instances with `size` bytes of body, sent as Content-Length or chunked in 64 KiB pieces. */
function postBody(d: Daemon, size: number, framing: 'length' | 'chunked'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: d.port, path: '/api/instances', method: 'POST', agent: false,
      headers: { host: 'localhost', authorization: `Bearer ${d.token}`, 'content-type': 'application/json',
        ...(framing === 'length' ? { 'content-length': String(size) } : {}) },
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    const piece = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        const n = Math.min(piece.length, size - sent);
        sent += n;
        if (!req.write(piece.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function errorCode(r: Reply): string {
  return (JSON.parse(r.body) as { error: { code: string } }).error.code;
}

test('API bodies over 1 MiB get 413 with a JSON error, by Content-Length and chunked', async (t) => {
  const d = await startDaemon(t, { config: BODY_CONFIG });
  for (const framing of ['length', 'chunked'] as const) {
    const big = await postBody(d, 3 * 1024 * 1024, framing);
    assert.equal(big.status, 413, `${framing}: ${big.body}`);
    assert.equal(errorCode(big), 'payload_too_large');
    assert.match(String(big.headers['content-type']), /^application\/json/);
  }
  // Just under the limit is read whole and judged on its content.
  const under = await postBody(d, 1024 * 1024 - 10, 'chunked');
  assert.equal(under.status, 400, under.body);
  assert.equal(errorCode(under), 'bad_request');
});

test('after a 413 the rest of the body is discarded and the connection serves the next request', async (t) => {
  const d = await startDaemon(t, { config: BODY_CONFIG });
  const socket = connect(d.port, '127.0.0.1');
  let received = '';
  socket.on('data', (c: Buffer) => { received += c.toString('latin1'); });
  const size = 2 * 1024 * 1024;
  socket.write(`POST /api/instances HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${d.token}\r\nContent-Length: ${size}\r\n\r\n`);
  socket.write(Buffer.alloc(size, 0x20));
  socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await waitFor(() => received.includes('{"status":"ok"}'), 20_000, () => `both answers on one connection, got:\n${received.slice(0, 500)}`);
  assert.match(received, /^HTTP\/1\.1 413 /);
  assert.match(received, /"code":"payload_too_large"/);
  socket.destroy();
});

/** Opens an SSE stream with a raw socket; resolves once its head has arrived. */
async function openStream(d: Daemon, path: string): Promise<{ socket: Socket; head: () => string }> {
  const socket = connect(d.port, '127.0.0.1');
  let text = '';
  const onData = (c: Buffer): void => { if (text.length < 65536) text += c.toString('latin1'); };
  socket.on('data', onData);
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${d.token}\r\nAccept: text/event-stream\r\n\r\n`);
  await waitFor(() => text.includes('\r\n\r\n'), 10_000, `the head of ${path}`);
  return { socket, head: () => text };
}

function getStatus(d: Daemon, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: d.port, path, agent: false, headers: { host: 'localhost', authorization: `Bearer ${d.token}` } }, (res) => {
      if (res.statusCode === 200) {
        // A stream: the status is all we wanted.
        resolve({ status: 200, headers: res.headers, body: '' });
        res.destroy();
        return;
      }
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('event and log streams are capped by max_sse_clients; one more gets 503 with Retry-After', async (t) => {
  const d = await startDaemon(t, { config: STREAM_CONFIG });
  const events = await openStream(d, '/api/events');
  const logs = await openStream(d, '/api/logs/stream');
  assert.match(events.head(), /^HTTP\/1\.1 200 /);
  assert.match(logs.head(), /^HTTP\/1\.1 200 /);
  for (const path of ['/api/events', '/api/logs/stream']) {
    const refused = await getStatus(d, path);
    assert.equal(refused.status, 503, path);
    assert.equal(errorCode(refused), 'too_many_streams');
    assert.equal(refused.headers['retry-after'], '5');
  }
  // Ordinary API calls are not streams and are not limited by it.
  assert.equal((await getStatus(d, '/api/instances')).status, 200);
  events.socket.destroy();
  await waitFor(async () => (await getStatus(d, '/api/events')).status === 200, 10_000, 'a free stream slot once one client left');
  logs.socket.destroy();
});

test('a log-stream client that stops reading is dropped, freeing its slot', async (t) => {
  const d = await startDaemon(t, { config: STREAM_CONFIG });
  assert.equal((await d.ten(['spawn', 'flood:one'])).code, 0);
  const stalled = await openStream(d, '/api/logs/stream?service=flood');
  stalled.socket.pause();
  const other = await openStream(d, '/api/events');
  // Both slots are taken until the server drops the stalled client (the cap itself is tested
  // above; how soon the flood fills the stalled client's buffer depends on the machine's load).
  await waitFor(async () => (await getStatus(d, '/api/logs/stream')).status === 200, 60_000, 'the stalled client to be dropped');
  // What the server had queued arrives, then the stream ends: it was cut, not left hanging.
  stalled.socket.on('data', () => undefined);
  stalled.socket.resume();
  await waitFor(() => stalled.socket.closed, 30_000, 'the dropped stream to end');
  other.socket.destroy();
});
