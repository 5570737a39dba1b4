/**
 * One keep-alive connection to an instance process, and the HTTP/1.1 client on it: writes the request head in one write, streams a request body (chunked when it has no
 * length) once connected, and parses the response incrementally with the strict response parser,
 * handing the head and body slices to a sink. Pooled by upstream-pool.ts.
 * @module
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.js';
import type { ChunkSink } from './chunked.js';
import { HeadBytes } from './head-bytes.js';
import { hasNoBody, parseResponseHead } from './response-head.js';
import type { ResponseHead } from './response-head.js';

/**
 * unreached: the instance never read the request: the connection was refused, or reset with a
 * body-less request still unread (a process that died before reading it, a keep-alive
 * connection it had already closed). Safe to send again.
 * lost: the request was written and read, then the connection closed with no answer: the
 * request may be what ended the instance, so it is never sent again.
 * timeout: no head within the timeout. broken: the answer stopped midway.
 * invalid: the answer is not valid HTTP/1.1 (see the reason).
 */
export type UpstreamFailure = 'unreached' | 'lost' | 'timeout' | 'broken' | 'invalid';

/** A request body to stream upstream (the front connection's body stream). */
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
  onUpstreamFailure(failure: UpstreamFailure, reason?: string): void;
  /** A 101 to an upgrade request: the socket is the sink's now; `rest` came after the head. */
  onUpstreamSwitch(head: ResponseHead, socket: Socket, rest: Buffer): void;
}

export interface UpstreamRequest {
  readonly method: string;
  readonly url: string;
  /** Rewritten upstream headers (upstreamRequestHeaders). */
  readonly headers: readonly string[];
  /** The body to stream, or null for none. */
  readonly body: RequestBodySource | null;
  /** Content-Length, or -1 for a body of unknown length (sent chunked). */
  readonly bodyLength: number;
  /** Asks for a protocol switch: only then may a 101 answer it. */
  readonly isUpgrade: boolean;
}

/** What a connection tells the pool that owns it. */
export interface ConnectionOwner {
  /** A finished keep-alive connection comes back. */
  release(conn: UpstreamConnection): void;
  /** A connection closed, failed or switched protocols. */
  forget(conn: UpstreamConnection): void;
  /** Where a contained proxy bug is reported. */
  reportError(err: unknown): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');

const enum Phase { Idle, Head, Length, UntilClose, Chunked }

export class UpstreamConnection implements ChunkSink {
  private readonly socket: Socket;
  private sink: UpstreamSink | null = null;
  private phase = Phase.Idle;
  private readonly head = new HeadBytes();
  private remaining = 0;
  private chunked: ChunkedDecoder | null = null;
  private isHeadRequest = false;
  private isUpgrade = false;
  private isKeepAlive = true;
  private hasAnswer = false;
  private isConnected = false;
  /** The instance reset the connection: bytes we sent were still unread when its socket closed. */
  private wasReset = false;
  private hasBody = false;
  sentAt = 0;
  idleSince = 0;
  private body: RequestBodySource | null = null;
  private isBodyChunked = false;

  constructor(private readonly pool: ConnectionOwner, port: number) {
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.socket.on('connect', this.onConnect);
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onClosed);
    this.socket.on('close', this.onClosed);
    this.socket.on('error', this.onError);
    this.socket.on('drain', this.onDrain);
  }

  get isBusy(): boolean {
    return this.phase !== Phase.Idle;
  }

  get isWaitingForHead(): boolean {
    return this.phase === Phase.Head;
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && !this.socket.readableEnded;
  }

  send(request: UpstreamRequest, sink: UpstreamSink): void {
    this.sink = sink;
    this.phase = Phase.Head;
    // The previous answer may have left the socket paused by back-pressure on its last chunk.
    this.socket.resume();
    this.hasAnswer = false;
    this.wasReset = false;
    this.isHeadRequest = request.method === 'HEAD';
    this.isUpgrade = request.isUpgrade;
    this.sentAt = Date.now();
    const headers = request.headers;
    let head = `${request.method} ${request.url} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    const body = request.body;
    this.hasBody = body !== null;
    this.isBodyChunked = body !== null && request.bodyLength < 0;
    if (this.isBodyChunked) head += 'transfer-encoding: chunked\r\n';
    this.socket.write(`${head}\r\n`, 'latin1');
    if (body === null) return;
    this.body = body;
    // Not one body byte is taken before the connection exists: an unreached request stays resendable.
    if (this.isConnected) this.streamBody();
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

  private readonly onConnect = (): void => {
    this.isConnected = true;
    if (this.body !== null) this.streamBody();
  };

  private readonly onDrain = (): void => {
    this.body?.resume();
  };

  private streamBody(): void {
    this.body!.on('data', this.onBodyData);
    this.body!.on('end', this.onBodyEnd);
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

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    // Linux resets (RST) rather than closes a socket whose owner left data unread in it.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.wasReset = true;
    this.onClosed();
  };

  private readonly onClosed = (): void => {
    const sink = this.sink;
    const phase = this.phase;
    this.sink = null;
    this.phase = Phase.Idle;
    this.detachBody();
    this.pool.forget(this);
    if (!this.socket.destroyed) this.socket.destroy();
    if (sink === null) return;
    if (phase === Phase.UntilClose) sink.onUpstreamEnd();
    else if (this.hasAnswer) sink.onUpstreamFailure('broken');
    else sink.onUpstreamFailure(!this.isConnected || (this.wasReset && !this.hasBody) ? 'unreached' : 'lost');
  };

  /** Called by the pool's sweep. */
  timeOut(): void {
    this.fail('timeout');
  }

  private fail(failure: UpstreamFailure, reason?: string): void {
    const sink = this.sink;
    this.abort();
    this.phase = Phase.Idle;
    this.pool.forget(this);
    sink?.onUpstreamFailure(failure, reason);
  }

  private complete(leftover: boolean): void {
    const sink = this.sink!;
    this.sink = null;
    this.phase = Phase.Idle;
    // Not reusable: an upgrade request's connection, an unread request body, bytes nobody asked for.
    const isReusable = this.isKeepAlive && !leftover && this.body === null && !this.isUpgrade;
    sink.onUpstreamEnd();
    if (isReusable) this.pool.release(this);
    else this.abort();
  }

  onChunkData(data: Buffer): void {
    if (this.sink !== null && !this.sink.onUpstreamData(data)) this.socket.pause();
  }

  private readonly onData = (input: Buffer): void => {
    try {
      this.consume(input);
    } catch (err) {
      // A proxy bug stays with this request: both ends are closed, the server goes on.
      this.pool.reportError(err);
      this.fail('broken');
    }
  };

  private consume(input: Buffer): void {
    if (this.sink === null) {
      // Bytes nobody asked for (or after an abort): this connection is out of step.
      this.abort();
      return;
    }
    this.hasAnswer = true;
    let buf = input;
    let off = 0;
    while (off < buf.length && this.sink !== null) {
      switch (this.phase) {
        case Phase.Head: {
          const view = this.head.append(off === 0 ? buf : buf.subarray(off));
          const end = view.indexOf(CRLF2, Math.max(0, this.head.scanned - 3));
          if (end < 0) {
            if (view.length > MAX_HEAD_BYTES) return this.fail('invalid', 'response head larger than 64 KiB');
            this.head.scanned = view.length;
            return;
          }
          const parsed = parseResponseHead(view, 0, end + 4);
          buf = view;
          off = end + 4;
          this.head.reset(null);
          if (typeof parsed === 'string') return this.fail('invalid', parsed);
          if (!this.onHead(parsed, buf, off)) return;
          break;
        }
        case Phase.Length: {
          const n = Math.min(this.remaining, buf.length - off);
          this.onChunkData(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0 && this.sink !== null) return this.complete(off < buf.length);
          break;
        }
        case Phase.UntilClose:
          this.onChunkData(off === 0 ? buf : buf.subarray(off));
          off = buf.length;
          break;
        case Phase.Chunked: {
          const decoder = this.chunked!;
          off = decoder.feed(buf, off, buf.length);
          if (off < 0) return this.fail('broken');
          if (decoder.isDone && this.sink !== null) return this.complete(off < buf.length);
          break;
        }
        case Phase.Idle:
          return this.abort();
      }
    }
  }

  /** A complete head: false when the exchange ended with it (no body, a switch, a failure). */
  private onHead(head: ResponseHead, buf: Buffer, off: number): boolean {
    const status = head.status;
    if (status === 101) {
      if (!this.isUpgrade || head.upgrade === undefined) {
        this.fail('invalid', this.isUpgrade ? '101 Switching Protocols without Upgrade' : '101 Switching Protocols to a request that asked for no upgrade');
        return false;
      }
      const sink = this.sink!;
      this.sink = null;
      this.phase = Phase.Idle;
      this.pool.forget(this);
      for (const event of ['connect', 'data', 'end', 'close', 'error', 'drain'] as const) this.socket.removeAllListeners(event);
      sink.onUpstreamSwitch(head, this.socket, buf.subarray(off));
      return false;
    }
    // Interim answers (100, 102, 103) are not relayed: the proxy answers 100-continue itself.
    if (status < 200) return true;
    this.isKeepAlive = head.isKeepAlive;
    this.sink!.onUpstreamHead(head);
    if (this.sink === null) return false;
    if (this.isHeadRequest || hasNoBody(status) || head.contentLength === 0) {
      this.complete(off < buf.length);
      return false;
    }
    if (head.isChunked) {
      this.phase = Phase.Chunked;
      this.chunked = new ChunkedDecoder(this);
    } else if (head.contentLength > 0) {
      this.phase = Phase.Length;
      this.remaining = head.contentLength;
    } else this.phase = Phase.UntilClose;
    return true;
  }
}
