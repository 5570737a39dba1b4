/**
 * One client connection on the raw front path: reads request heads with the strict parser,
 * relays the request body (Content-Length or chunked), writes the instance's answer straight to
 * the socket, one exchange at a time in order (pipelined requests wait in the buffer), and hands
 * the socket to the node:http server on a request boundary for anything it does not handle.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ChunkedBodyDecoder, findHeadEnd, HEAD_INCOMPLETE, HEAD_TOO_LARGE, MAX_REQUEST_HEAD_BYTES, parseRequestHead, skipEmptyLines } from './request-head.js';
import type { HeadError, RequestHead } from './request-head.js';
import { AUTO_SPAWN_RETRY_AFTER_S } from './auto-spawn-limit.js';
import { hasNoBody } from './response-head.js';
import type { ProxyErrorStatus } from './responses.js';
import type { ResponseHead } from './response-head.js';

/** The forwarding job of the exchange in progress, as the connection drives it. */
export interface RawExchange {
  /** The client response is done or the client left: release the instance, record stats. */
  finish(): void;
  /** The client socket drained after a write returned false. */
  resumeUpstream(): void;
}

/** What the connection needs from the front server. */
export interface RawConnectionOwner {
  /** Coarse clock (ms), refreshed by the owner's sweep. */
  readonly now: number;
  /** The current Date header value. */
  readonly date: string;
  /** No new exchanges: close connections as their exchange ends. */
  readonly isClosing: boolean;
  /** Header lines ("Name: value\r\n") added to every answer on an encrypted socket. */
  readonly secureHead: string;
  /** Route and start a request; false leaves it (untouched) to the node:http server. */
  dispatch(conn: RawConnection, head: RequestHead): boolean;
  handOff(conn: RawConnection, socket: Socket): void;
  forget(conn: RawConnection): void;
}

const enum Phase { Head, Body, Done, Closing }

const INVALID_VALUE = /[\r\n\0]/;
/** Answers up to this size are written together with their head as one latin1 string. */
const SMALL_BODY_BYTES = 4096;
/** Bytes of a pipelined next request buffered before reading pauses. */
const MAX_BUFFERED = MAX_REQUEST_HEAD_BYTES + 4096;

const TEXT: Readonly<Record<number, string>> = {
  404: 'not found\n',
  429: 'too many requests\n',
  502: 'bad gateway\n',
  503: 'service unavailable\n',
  504: 'gateway timeout\n',
};

function refusal(status: HeadError | 408): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`;
}

class RawBody extends Readable {
  constructor(private readonly socket: Socket) {
    super();
  }

  override _read(): void {
    this.socket.resume();
  }
}

export class RawConnection {
  readonly socket: Socket;
  /** The client connection is TLS (a TLSSocket, or the HTTP/2 bridge's stand-in for one). */
  readonly isEncrypted: boolean;
  /** owner.secureHead on an encrypted connection, else ''. */
  private readonly extraHead: string;
  private readonly owner: RawConnectionOwner;
  private phase = Phase.Head;
  private buffered: Buffer | null = null;
  /** When the head being awaited started (connection open or first byte); 0 while idle. */
  headSince: number;
  /** When the last exchange ended (keep-alive idle). */
  idleSince = 0;
  /** When the request in progress started (body timeout). */
  requestSince = 0;
  /** When the connection started closing (a client that never reads its refusal is cut). */
  closingSince = 0;
  private exchange: RawExchange | null = null;
  private body: RawBody | null = null;
  private bodyRemaining = 0;
  private chunked: ChunkedBodyDecoder | null = null;
  private isHeadRequest = false;
  private wantsClose = false;
  private isChunkedOut = false;
  /** The response head, held back to go out with the first body bytes. */
  private pendingHead: string | null = null;
  private isAnswered = false;
  private isParsing = false;
  private isParseQueued = false;
  statusCode = 200;

  constructor(owner: RawConnectionOwner, socket: Socket) {
    this.owner = owner;
    this.socket = socket;
    this.isEncrypted = (socket as { encrypted?: boolean }).encrypted === true;
    this.extraHead = this.isEncrypted ? owner.secureHead : '';
    this.headSince = owner.now;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.on('drain', this.onDrain);
  }

  get isIdle(): boolean {
    return this.phase === Phase.Head && this.exchange === null && this.buffered === null;
  }

  get isWaitingForHead(): boolean {
    return this.phase === Phase.Head && this.exchange === null && this.headSince > 0;
  }

  get isReadingBody(): boolean {
    return this.phase === Phase.Body;
  }

  get isClosing(): boolean {
    return this.phase === Phase.Closing;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.phase === Phase.Closing) return;
    if (this.phase === Phase.Body) {
      this.feedBody(chunk, 0);
      return;
    }
    this.buffered = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.exchange === null) {
      if (this.headSince === 0) this.headSince = this.owner.now;
      this.parse();
    } else if (this.buffered.length > MAX_BUFFERED) {
      // A pipelined request waits for the current answer; stop reading until then.
      this.socket.pause();
    }
  };

  private readonly onEnd = (): void => {
    // A client that half-closes has left, as with node:http: what is in progress is cancelled.
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.phase = Phase.Closing;
    this.owner.forget(this);
    const exchange = this.exchange;
    this.exchange = null;
    this.body?.destroy();
    this.body = null;
    exchange?.finish();
  };

  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onDrain = (): void => {
    this.exchange?.resumeUpstream();
  };

  /** Parses buffered heads while no exchange is in progress. */
  private parse(): void {
    if (this.isParsing) return;
    this.isParsing = true;
    while (this.exchange === null && this.phase === Phase.Head && this.buffered !== null) {
      const buf = this.buffered;
      const start = skipEmptyLines(buf, 0);
      const end = findHeadEnd(buf, start);
      if (end === HEAD_INCOMPLETE) {
        if (start > 0) this.buffered = start === buf.length ? null : buf.subarray(start);
        break;
      }
      if (end < 0) {
        this.refuse(end === HEAD_TOO_LARGE ? 431 : 400);
        break;
      }
      const head = parseRequestHead(buf, start, end);
      if (typeof head === 'number') {
        this.refuse(head);
        break;
      }
      if (!head.isHttp11 || head.needsNodeServer || !this.startExchange(head, buf, end)) {
        this.handOff(start === 0 ? buf : buf.subarray(start));
        break;
      }
    }
    this.isParsing = false;
  }

  /** Sets up the exchange's state and lets the owner dispatch it; false (nothing changed): hand off. */
  private startExchange(head: RequestHead, buf: Buffer, end: number): boolean {
    const hasBody = head.isChunked || head.contentLength > 0;
    this.isHeadRequest = head.method === 'HEAD';
    this.wantsClose = head.wantsClose;
    this.isAnswered = false;
    this.isChunkedOut = false;
    this.statusCode = 200;
    this.requestSince = this.owner.now;
    const headSince = this.headSince;
    this.headSince = 0;
    this.buffered = end === buf.length ? null : buf.subarray(end);
    if (hasBody) {
      this.body = new RawBody(this.socket);
      this.phase = Phase.Body;
      if (head.isChunked) this.chunked = new ChunkedBodyDecoder();
      else this.bodyRemaining = head.contentLength;
    } else this.phase = Phase.Done;
    // Marks the exchange as in progress so an answer given during dispatch (404) ends it.
    this.exchange = NO_EXCHANGE;
    if (!this.owner.dispatch(this, head)) {
      this.exchange = null;
      this.phase = Phase.Head;
      this.body = null;
      this.chunked = null;
      this.buffered = buf;
      this.headSince = headSince;
      return false;
    }
    if (this.phase === Phase.Body && this.buffered !== null) {
      const rest = this.buffered;
      this.buffered = null;
      this.feedBody(rest, 0);
    }
    return true;
  }

  /** The request body the exchange forwards (null without one). */
  get requestBody(): Readable | null {
    return this.body;
  }

  /** Called by the owner once the forwarding job exists; false: the exchange is over (client gone). */
  attach(exchange: RawExchange): boolean {
    if (this.exchange !== NO_EXCHANGE) return false;
    this.exchange = exchange;
    return true;
  }

  private feedBody(buf: Buffer, from: number): void {
    const body = this.body!;
    let off = from;
    let ok = true;
    if (this.chunked !== null) {
      off = this.chunked.feed(buf, off, buf.length, (data) => { ok = body.push(data) && ok; });
      if (off < 0) {
        this.refuse(400);
        return;
      }
      if (this.chunked.isDone) this.endBody();
    } else {
      const n = Math.min(this.bodyRemaining, buf.length - off);
      ok = body.push(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
      off += n;
      this.bodyRemaining -= n;
      if (this.bodyRemaining === 0) this.endBody();
    }
    if (off < buf.length) {
      const rest = buf.subarray(off);
      this.buffered = this.buffered === null ? rest : Buffer.concat([this.buffered, rest]);
    }
    if (!ok) this.socket.pause();
  }

  private endBody(): void {
    this.body!.push(null);
    this.body = null;
    this.chunked = null;
    this.phase = this.exchange === null ? Phase.Head : Phase.Done;
  }

  respondHead(head: ResponseHead): void {
    const status = head.status;
    this.statusCode = status;
    this.isAnswered = true;
    const reason = head.statusText === '' ? STATUS_CODES[status] ?? '' : head.statusText;
    let out = `HTTP/1.1 ${status} ${reason}\r\n`;
    const headers = head.headers;
    let hasDate = false;
    if (INVALID_VALUE.test(reason)) {
      this.cut();
      return;
    }
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (INVALID_VALUE.test(value)) {
        // An instance's value that would split the response: cut rather than relay it.
        this.cut();
        return;
      }
      if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      out += `${name}: ${value}\r\n`;
    }
    if (!hasDate) out += `Date: ${this.owner.date}\r\n`;
    out += this.extraHead;
    if (!this.isHeadRequest && !hasNoBody(status) && head.contentLength < 0) {
      this.isChunkedOut = true;
      out += 'Transfer-Encoding: chunked\r\n';
    }
    if (this.wantsClose || this.owner.isClosing || this.phase === Phase.Body) {
      this.wantsClose = true;
      out += 'Connection: close\r\n';
    }
    out += '\r\n';
    // A sized answer sends head and body together; a streamed one (SSE) gets its head now.
    if (head.contentLength > 0 && !this.isHeadRequest) this.pendingHead = out;
    else this.socket.write(out, 'latin1');
  }

  respondData(chunk: Buffer): boolean {
    const socket = this.socket;
    if (socket.destroyed) return false;
    const head = this.pendingHead;
    if (head !== null) {
      this.pendingHead = null;
      // A small answer goes out as one string write: cheaper than a two-buffer writev.
      if (chunk.length <= SMALL_BODY_BYTES) return socket.write(head + chunk.toString('latin1'), 'latin1');
      socket.cork();
      socket.write(head, 'latin1');
      const ok = socket.write(chunk);
      socket.uncork();
      return ok;
    }
    if (!this.isChunkedOut) return socket.write(chunk);
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    const ok = socket.write('\r\n', 'latin1');
    socket.uncork();
    return ok;
  }

  respondEnd(): void {
    if (this.socket.destroyed) return;
    if (this.pendingHead !== null) {
      this.socket.write(this.pendingHead, 'latin1');
      this.pendingHead = null;
    }
    if (this.isChunkedOut) this.socket.write('0\r\n\r\n', 'latin1');
    this.endExchange();
  }

  /** A short neutral answer of the proxy's own (same as sendProxyError), or a cut once answered. */
  respondError(status: ProxyErrorStatus): void {
    if (this.phase === Phase.Closing || this.exchange === null) return;
    if (this.isAnswered) {
      this.cut();
      return;
    }
    this.statusCode = status;
    this.isAnswered = true;
    this.pendingHead = null;
    this.isChunkedOut = false;
    const text = TEXT[status]!;
    if (this.phase === Phase.Body) this.wantsClose = true;
    const close = this.wantsClose || this.owner.isClosing ? 'Connection: close\r\n' : '';
    const retry = status === 429 ? `retry-after: ${AUTO_SPAWN_RETRY_AFTER_S}\r\n` : '';
    this.socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${text.length}\r\ncache-control: no-store\r\n${retry}Date: ${this.owner.date}\r\n${this.extraHead}${close}\r\n${text}`, 'latin1');
    this.endExchange();
  }

  cut(): void {
    this.socket.destroy();
  }

  private endExchange(): void {
    const exchange = this.exchange;
    this.exchange = null;
    if (exchange !== NO_EXCHANGE) exchange?.finish();
    if (this.phase === Phase.Closing) return;
    // An unread request body (the instance answered early) leaves the stream out of step.
    if (this.wantsClose || this.owner.isClosing || this.phase === Phase.Body) {
      this.close();
      return;
    }
    this.phase = Phase.Head;
    this.idleSince = this.owner.now;
    if (this.buffered === null) return;
    this.headSince = this.owner.now;
    this.socket.resume();
    // Parse the next pipelined request after the upstream connection is back in its pool.
    if (!this.isParseQueued) {
      this.isParseQueued = true;
      queueMicrotask(this.parseQueued);
    }
  }

  private readonly parseQueued = (): void => {
    this.isParseQueued = false;
    if (this.phase === Phase.Head && this.exchange === null) this.parse();
  };

  /** Refuses a malformed request: 400/431/408 and close (input is read and dropped meanwhile). */
  refuse(status: HeadError | 408): void {
    const exchange = this.exchange;
    this.exchange = null;
    this.body?.destroy();
    this.body = null;
    if (exchange !== null && exchange !== NO_EXCHANGE) exchange.finish();
    if (this.isAnswered) {
      this.socket.destroy();
      return;
    }
    this.phase = Phase.Closing;
    this.closingSince = this.owner.now;
    this.buffered = null;
    this.socket.resume();
    this.socket.end(refusal(status), 'latin1');
  }

  /** Ends the connection politely (idle keep-alive timeout, server closing). */
  close(): void {
    this.phase = Phase.Closing;
    this.closingSince = this.owner.now;
    this.buffered = null;
    this.socket.end();
  }

  private handOff(rest: Buffer): void {
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
    socket.off('drain', this.onDrain);
    this.phase = Phase.Closing;
    this.buffered = null;
    this.owner.forget(this);
    socket.pause();
    socket.unshift(rest);
    this.owner.handOff(this, socket);
    socket.resume();
  }
}

/** Placeholder while the owner dispatches (the job does not exist yet). */
const NO_EXCHANGE: RawExchange = { finish: () => undefined, resumeUpstream: () => undefined };
