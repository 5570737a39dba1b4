// Event streams over real loopback sockets: a client that stops reading is dropped once its queue
// passes the bound, one that reads is never dropped however much it gets, bulk writers wait for the
// reader (and drop it when it stalls), and the cap on open streams holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import type { TenementError } from '../core/errors.js';
import { SseStreams, type SseLimits, type SseStream } from './sse.js';
import { waitFor } from '../../test/helpers/wait.js';

const LIMITS: SseLimits = { maxClients: 2, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000, stallMs: 500 };
const EVENT = `event: tick\ndata: ${'x'.repeat(1000)}\n\n`;

/** A server whose every request opens a stream and hands it to `onStream`. */
async function serve(t: TestContext, streams: SseStreams, onStream: (s: SseStream, res: ServerResponse) => void): Promise<number> {
  const server = createServer((_req, res) => {
    try {
      onStream(streams.start(res, ': hello\n\n'), res);
    } catch (err) {
      res.writeHead(503).end((err as TenementError).code);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return (server.address() as { port: number }).port;
}

function client(port: number): { socket: Socket; received: () => number; text: () => string } {
  const socket = connect(port, '127.0.0.1');
  let bytes = 0;
  let text = '';
  socket.on('data', (c: Buffer) => {
    bytes += c.length;
    if (text.length < 4096) text += c.toString('latin1');
  });
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  return { socket, received: () => bytes, text: () => text };
}

/** Writes one event per 1 ms tick, 50 per tick, until the stream closes (bounded by `max`). */
function produce(stream: SseStream, max = 200_000): void {
  let sent = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < 50 && sent < max; i++, sent++) if (!stream.write(EVENT)) return void clearInterval(timer);
  }, 1);
  stream.onClose(() => clearInterval(timer));
}

test('a client that stops reading is dropped once its queue passes the bound', async (t) => {
  const streams = new SseStreams(LIMITS);
  let closed = false;
  const port = await serve(t, streams, (s) => {
    s.onClose(() => { closed = true; });
    produce(s);
  });
  const c = client(port);
  await waitFor(() => c.text().includes('200 OK'), 20_000, 'the stream head');
  c.socket.pause();
  await waitFor(() => closed, 20_000, 'the drop');
  assert.equal(streams.dropped, 1);
  assert.equal(streams.openCount, 0);
  c.socket.destroy();
});

test('a client that keeps reading is never dropped, though it gets many times the bound', async (t) => {
  const streams = new SseStreams(LIMITS);
  const port = await serve(t, streams, (s) => produce(s, 4000));
  const c = client(port);
  await waitFor(() => c.received() > 4000 * EVENT.length, 20_000, '4 MB read');
  assert.equal(streams.dropped, 0);
  assert.equal(streams.openCount, 1);
  c.socket.destroy();
  await waitFor(() => streams.openCount === 0, 20_000, 'the close to be seen');
});

test('drained() lets a bulk writer follow the reader, and drops a reader that stalls', async (t) => {
  const streams = new SseStreams(LIMITS);
  const outcomes: boolean[] = [];
  // Far more than the bound in all (3 MB, then up to 100 MB), never much more than the low-water
  // mark ahead of the reader.
  const counts = [3000, 100_000];
  const port = await serve(t, streams, (s) => {
    const count = counts.shift() ?? 0;
    void (async () => {
      for (let i = 0; i < count; i++) {
        s.write(EVENT);
        if (!await s.drained()) return void outcomes.push(false);
      }
      outcomes.push(true);
    })();
  });
  const reader = client(port);
  await waitFor(() => outcomes.length === 1, 20_000, 'the reader to get everything');
  assert.deepEqual(outcomes, [true]);
  assert.equal(streams.dropped, 0);
  reader.socket.destroy();

  const staller = client(port);
  await waitFor(() => staller.text().includes('200 OK'), 20_000, 'the stream head');
  staller.socket.pause();
  await waitFor(() => outcomes.length === 2, 20_000, 'the stalled reader to be dropped');
  assert.deepEqual(outcomes, [true, false]);
  assert.equal(streams.dropped, 1);
  staller.socket.destroy();
});

test('past maxClients a stream is refused before anything is written; a closed one frees its slot', async (t) => {
  const streams = new SseStreams(LIMITS);
  const port = await serve(t, streams, () => undefined);
  const a = client(port);
  const b = client(port);
  await waitFor(() => a.text().includes('200 OK') && b.text().includes('200 OK'), 20_000, 'two streams');
  const c = client(port);
  await waitFor(() => c.text().includes('503'), 20_000, 'the refusal');
  assert.match(c.text(), /too_many_streams/);
  a.socket.destroy();
  await waitFor(() => streams.openCount === 1, 20_000, 'a free slot');
  const d = client(port);
  await waitFor(() => d.text().includes('200 OK'), 20_000, 'a new stream');
  for (const x of [b, c, d]) x.socket.destroy();
});
