import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { ResponseHead } from './response-head.js';
import { UpstreamPool } from './upstream-pool.js';
import type { UpstreamFailure, UpstreamRequest, UpstreamSink } from './upstream.js';

/** Collects what the client side would receive. */
class Collector implements UpstreamSink {
  head: ResponseHead | null = null;
  chunks: Buffer[] = [];
  failure: UpstreamFailure | null = null;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => { this.resolve = r; });
  }
  onUpstreamHead(head: ResponseHead): void { this.head = head; }
  onUpstreamData(chunk: Buffer): boolean { this.chunks.push(Buffer.from(chunk)); return true; }
  onUpstreamEnd(): void { this.resolve(); }
  reason: string | undefined;
  onUpstreamFailure(failure: UpstreamFailure, reason?: string): void { this.failure = failure; this.reason = reason; this.resolve(); }
  onUpstreamSwitch(): void { throw new Error('no upgrade was asked for'); }
  get body(): string { return Buffer.concat(this.chunks).toString(); }
}

function get(path: string, headers: string[] = []): UpstreamRequest {
  return { method: 'GET', url: path, headers, body: null, bodyLength: 0, isUpgrade: false };
}

const report = (err: unknown): void => { throw err; };

/** A raw TCP "instance" that answers each request with the next scripted bytes, in small pieces. */
async function scriptedInstance(t: TestContext, answers: string[]): Promise<{ port: number; connections: () => number; requests: string[] }> {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((socket: Socket) => {
    connections++;
    let buffered = '';
    socket.on('data', async (c: Buffer) => {
      buffered += c.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        const end = buffered.indexOf('\r\n\r\n') + 4;
        requests.push(buffered.slice(0, end));
        buffered = buffered.slice(end);
        const answer = answers.shift();
        if (answer === undefined) return void socket.destroy();
        for (let i = 0; i < answer.length; i += 7) {
          socket.write(answer.slice(i, i + 7), 'latin1');
          await new Promise((r) => setImmediate(r));
        }
        if (answer.includes('X-Close-After: yes')) socket.end();
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { port: (server.address() as AddressInfo).port, connections: () => connections, requests };
}

test('responses framed by length, chunks (with extensions and trailers) and close all arrive whole; keep-alive reuses one connection', async (t) => {
  const inst = await scriptedInstance(t, [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nB\r\n, chunked!!\r\n0\r\nX-Trailer: t\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Close-After: yes\r\n\r\nuntil close',
  ]);
  const pool = new UpstreamPool(inst.port, 5000, report);
  t.after(() => pool.close());
  const expected: Array<[number, string, string[]]> = [
    [200, 'hello', ['Content-Length', '5', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']],
    [201, 'hello, chunked!!', []],
    [204, '', []],
    [200, 'until close', ['Content-Type', 'text/plain', 'X-Close-After', 'yes']],
  ];
  for (const [status, body, headers] of expected) {
    const sink = new Collector();
    pool.request(get('/x', ['Host', 'a.b.localhost']), sink);
    await sink.done;
    assert.equal(sink.failure, null);
    assert.equal(sink.head?.status, status);
    assert.deepEqual(sink.head?.headers, headers);
    assert.equal(sink.body, body);
  }
  assert.equal(inst.connections(), 1, 'keep-alive answers should reuse one connection');
  assert.match(inst.requests[0]!, /^GET \/x HTTP\/1\.1\r\nHost: a\.b\.localhost\r\n\r\n$/);
});

test('malformed answers, answers cut short and silence become failures', async (t) => {
  const inst = await scriptedInstance(t, [
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Close-After: yes\r\n\r\nshort',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
  ]);
  const pool = new UpstreamPool(inst.port, 300, report);
  t.after(() => pool.close());
  const outcomes: Array<[UpstreamFailure, string | undefined]> = [
    ['invalid', 'more than one Content-Length'], ['broken', undefined], ['broken', undefined],
    ['invalid', '101 Switching Protocols to a request that asked for no upgrade'],
  ];
  for (const [failure, reason] of outcomes) {
    const sink = new Collector();
    pool.request(get('/'), sink);
    await sink.done;
    assert.equal(sink.failure, failure);
    assert.equal(sink.reason, reason);
  }
  const silent = await scriptedInstance(t, ['']);
  const quiet = new UpstreamPool(silent.port, 300, report);
  t.after(() => quiet.close());
  const sink = new Collector();
  quiet.request(get('/'), sink);
  await sink.done;
  assert.equal(sink.failure, 'timeout');

  const refused = new UpstreamPool(1, 300, report);
  const nobody = new Collector();
  refused.request(get('/'), nobody);
  await nobody.done;
  assert.equal(nobody.failure, 'unreached');
});

test('a request written to a reused connection that then closes unanswered is lost (delivered), never resendable', async (t) => {
  const inst = await scriptedInstance(t, ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
  const pool = new UpstreamPool(inst.port, 5000, report);
  t.after(() => pool.close());
  const first = new Collector();
  pool.request(get('/'), first);
  await first.done;
  assert.equal(first.body, 'ok');
  const second = new Collector();
  pool.request(get('/'), second);
  await second.done;
  assert.equal(second.failure, 'lost');
  assert.equal(inst.requests.length, 2, 'the instance read the second request');
});
