/**
 * The keep-alive connection pool to one instance process, and the HTTP/1.1 client on it: writes
 * the request head in one write, streams a request body (chunked when it has no length), and
 * parses the response incrementally, handing the head and body slices to a sink. No per-request
 * timers: one sweep per pool enforces the response-head timeout and retires idle connections.
 * Clients' requests were already parsed by a front end; this side only talks to the instance.
 * @module
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { hasNoBody, parseResponseHead } from './response-head.js';
import type { ResponseHead } from './response-head.js';

/**
 * unreached: a new connection got no answer (refused, dropped): the process is down or dying.
 * stale: a reused keep-alive connection closed before answering (the instance timed it out):
 * resend at once on a fresh one. Both are safe to retry only when the request had no body.
 * timeout: no head within the timeout. broken: the answer stopped midway or was malformed.
 */
export type UpstreamFailure = 'unreached' | 'stale' | 'timeout' | 'broken';

/** A request body to stream upstream: an IncomingMessage, or the raw front path's body stream. */
export interface RequestBodySource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'end', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

export interface UpstreamSink {
  onUpstreamHead(head: ResponseHead): void;
  /** Returns false to pause the upstream until `resume()` is called on the request. */
  onUpstreamData(chunk: Buffer): boolean;
  onUpstreamEnd(): void;
  onUpstreamFailure(failure: UpstreamFailure): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;
/** Idle connections are retired before Node's default 5 s server keep-alive closes them. */
const IDLE_TTL_MS = 4000;
/**
 * A request with a body cannot be resent once streamed, so it only takes a connection that was
 * busy very recently (servers with short keep-alive, e.g. gunicorn's 2 s, may have closed older ones).
 */
const BODY_IDLE_MAX_MS = 1000;
const SWEEP_MS = 250;
const CRLF2 = Buffer.from('\r\n\r\n');

const enum Phase { Idle, Head, Length, UntilClose, ChunkSize, ChunkData, ChunkEnd, Trailers }

export class UpstreamConnection {
  private readonly socket: Socket;
  private sink: UpstreamSink | null = null;
  private phase = Phase.Idle;
  private pending: Buffer | null = null;
  private remaining = 0;
  private isHeadRequest = false;
  private isKeepAlive = true;
  private hasAnswer = false;
  private requestsSent = 0;
  sentAt = 0;
  idleSince = 0;
  private body: RequestBodySource | null = null;
  private isBodyChunked = false;

  constructor(private readonly pool: UpstreamPool, port: number) {
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.socket.on('data', (buf: Buffer) => this.onData(buf));
    this.socket.on('end', () => this.onClosed());
    this.socket.on('close', () => this.onClosed());
    this.socket.on('error', () => this.onClosed());
    this.socket.on('drain', () => this.body?.resume());
  }

  get isBusy(): boolean {
    return this.phase !== Phase.Idle;
  }

  get isWaitingForHead(): boolean {
    return this.phase === Phase.Head;
  }

  send(method: string, path: string, headers: readonly string[], body: RequestBodySource | null, bodyLength: number, sink: UpstreamSink): void {
    this.sink = sink;
    this.phase = Phase.Head;
    // The previous answer may have left the socket paused by back-pressure on its last chunk.
    this.socket.resume();
    this.hasAnswer = false;
    this.isHeadRequest = method === 'HEAD';
    this.sentAt = Date.now();
    this.requestsSent++;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    this.isBodyChunked = body !== null && bodyLength < 0;
    if (this.isBodyChunked) head += 'transfer-encoding: chunked\r\n';
    this.socket.write(`${head}\r\n`, 'latin1');
    if (body !== null) this.streamBody(body);
  }

  /** Continue after the sink returned false. */
  resume(): void {
    this.socket.resume();
  }

  /** The client left: this connection's state is unknown, so it is not reused. */
  abort(): void {
    this.sink = null;
    this.detachBody();
    this.socket.destroy();
  }

  destroy(): void {
    this.abort();
  }

  private streamBody(body: RequestBodySource): void {
    this.body = body;
    body.on('data', this.onBodyData);
    body.on('end', this.onBodyEnd);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    let ok: boolean;
    if (this.isBodyChunked) {
      this.socket.cork();
      this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      this.socket.write(chunk);
      ok = this.socket.write('\r\n', 'latin1');
      this.socket.uncork();
    } else {
      ok = this.socket.write(chunk);
    }
    if (!ok) this.body?.pause();
  };

  private readonly onBodyEnd = (): void => {
    if (this.isBodyChunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.detachBody();
  };

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    body.off('data', this.onBodyData);
    body.off('end', this.onBodyEnd);
    this.body = null;
  }

  private onClosed(): void {
    const sink = this.sink;
    const phase = this.phase;
    this.sink = null;
    this.phase = Phase.Idle;
    this.detachBody();
    this.pool.forget(this);
    if (!this.socket.destroyed) this.socket.destroy();
    if (sink === null) return;
    if (phase === Phase.UntilClose) sink.onUpstreamEnd();
    else sink.onUpstreamFailure(this.hasAnswer ? 'broken' : this.requestsSent > 1 ? 'stale' : 'unreached');
  }

  /** Called by the pool's sweep. */
  timeOut(): void {
    const sink = this.sink;
    this.sink = null;
    this.phase = Phase.Idle;
    this.abort();
    this.pool.forget(this);
    sink?.onUpstreamFailure('timeout');
  }

  private fail(): void {
    const sink = this.sink;
    this.abort();
    this.phase = Phase.Idle;
    this.pool.forget(this);
    sink?.onUpstreamFailure('broken');
  }

  private complete(leftover: boolean): void {
    const sink = this.sink!;
    this.sink = null;
    this.phase = Phase.Idle;
    // The request body may still be streaming if the instance answered early: not reusable then.
    const isReusable = this.isKeepAlive && !leftover && this.body === null;
    sink.onUpstreamEnd();
    if (isReusable) this.pool.release(this);
    else this.destroy();
  }

  private deliver(chunk: Buffer): void {
    if (this.sink !== null && !this.sink.onUpstreamData(chunk)) this.socket.pause();
  }

  private onData(input: Buffer): void {
    let buf = input;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, input]);
      this.pending = null;
    }
    if (this.sink === null) {
      // Bytes nobody asked for (or after an abort): this connection is out of step.
      if (this.phase === Phase.Idle) this.destroy();
      return;
    }
    this.hasAnswer = true;
    let off = 0;
    const len = buf.length;
    while (off < len && this.sink !== null) {
      switch (this.phase) {
        case Phase.Head: {
          const end = buf.indexOf(CRLF2, off);
          if (end < 0) {
            if (len - off > MAX_HEAD_BYTES) return this.fail();
            this.pending = buf.subarray(off);
            return;
          }
          const head = parseResponseHead(buf.toString('latin1', off, end));
          off = end + 4;
          if (head === null || head.status === 101) return this.fail();
          // Interim 1xx answers are not relayed (the proxy answered 100-continue itself).
          if (head.status < 200) continue;
          this.isKeepAlive = head.isKeepAlive;
          this.sink.onUpstreamHead(head);
          if (this.isHeadRequest || hasNoBody(head.status) || head.contentLength === 0) {
            this.complete(off < len);
            return;
          }
          if (head.isChunked) this.phase = Phase.ChunkSize;
          else if (head.contentLength > 0) {
            this.phase = Phase.Length;
            this.remaining = head.contentLength;
          } else this.phase = Phase.UntilClose;
          break;
        }
        case Phase.Length: {
          const n = Math.min(this.remaining, len - off);
          this.deliver(off === 0 && n === len ? buf : buf.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0 && this.sink !== null) {
            this.complete(off < len);
            return;
          }
          break;
        }
        case Phase.UntilClose:
          this.deliver(off === 0 ? buf : buf.subarray(off));
          off = len;
          break;
        case Phase.ChunkSize:
        case Phase.ChunkEnd:
        case Phase.Trailers: {
          const eol = buf.indexOf('\r\n', off, 'latin1');
          if (eol < 0) {
            if (len - off > MAX_LINE_BYTES) return this.fail();
            this.pending = buf.subarray(off);
            return;
          }
          const lineLength = eol - off;
          if (this.phase === Phase.ChunkSize) {
            const size = parseChunkSize(buf, off, eol);
            if (size < 0) return this.fail();
            if (size === 0) this.phase = Phase.Trailers;
            else {
              this.phase = Phase.ChunkData;
              this.remaining = size;
            }
          } else if (this.phase === Phase.ChunkEnd) {
            if (lineLength !== 0) return this.fail();
            this.phase = Phase.ChunkSize;
          } else if (lineLength === 0) {
            off = eol + 2;
            this.complete(off < len);
            return;
          }
          off = eol + 2;
          break;
        }
        case Phase.ChunkData: {
          const n = Math.min(this.remaining, len - off);
          this.deliver(buf.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.phase = Phase.ChunkEnd;
          break;
        }
        case Phase.Idle:
          return this.destroy();
      }
    }
  }
}

/** Hex size before any `;extension`; -1 if malformed or absurd. */
function parseChunkSize(buf: Buffer, start: number, end: number): number {
  let size = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    let v: number;
    if (c >= 48 && c <= 57) v = c - 48;
    else if (c >= 97 && c <= 102) v = c - 87;
    else if (c >= 65 && c <= 70) v = c - 55;
    else if (c === 59 /* ; */ || c === 32 || c === 9) break;
    else return -1;
    size = size * 16 + v;
    if (++digits > 12) return -1;
  }
  return digits === 0 ? -1 : size;
}

/** The connections to one instance process (one port). */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly busy = new Set<UpstreamConnection>();
  private sweeper: NodeJS.Timeout | null = null;
  private isClosed = false;

  constructor(
    readonly port: number,
    private readonly headTimeoutMs: number,
  ) {}

  /** Sends a request on an idle connection, or a new one. */
  request(method: string, path: string, headers: readonly string[], body: RequestBodySource | null, bodyLength: number, sink: UpstreamSink): UpstreamConnection {
    // Most recently released first: the warmest connection, the least likely to be timed out.
    let conn = this.idle.pop();
    if (conn !== undefined && body !== null && Date.now() - conn.idleSince > BODY_IDLE_MAX_MS) {
      this.idle.push(conn);
      conn = undefined;
    }
    if (conn === undefined) conn = new UpstreamConnection(this, this.port);
    this.busy.add(conn);
    if (this.sweeper === null && !this.isClosed) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
    conn.send(method, path, headers, body, bodyLength, sink);
    return conn;
  }

  /** @internal a finished keep-alive connection comes back. */
  release(conn: UpstreamConnection): void {
    this.busy.delete(conn);
    if (this.isClosed) {
      conn.destroy();
      return;
    }
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  /** @internal a connection closed or failed. */
  forget(conn: UpstreamConnection): void {
    this.busy.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private sweep(): void {
    if (this.busy.size === 0 && this.idle.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      return;
    }
    const now = Date.now();
    for (const conn of this.busy) {
      if (conn.isWaitingForHead && now - conn.sentAt > this.headTimeoutMs) conn.timeOut();
    }
    // Oldest first: the front of the idle list has waited longest.
    while (this.idle.length > 0 && now - this.idle[0]!.idleSince > IDLE_TTL_MS) this.idle.shift()!.destroy();
  }

  /** No new requests; idle connections close now, busy ones when their answer ends. */
  close(): void {
    this.isClosed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const conn of this.idle.splice(0)) conn.destroy();
    // Busy connections keep their own timers-free lifecycle; still enforce head timeouts for them.
    if (this.busy.size > 0) {
      const sweeper = setInterval(() => {
        this.sweep();
        if (this.busy.size === 0) clearInterval(sweeper);
      }, SWEEP_MS);
      sweeper.unref();
    }
  }
}
