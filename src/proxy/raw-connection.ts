/**
 * One client connection of the front server, and the only HTTP/1.1 server implementation for it:
 * reads request heads with the strict parser, relays the request body (Content-Length or
 * chunked), answers 100-continue, writes the instance's (validated) answer straight to the
 * socket, one exchange at a time in order (pipelined requests wait in the buffer), and turns into
 * a tunnel only when an instance answers an upgrade with 101. Management requests get the same
 * parsing; their answer is written by node's ServerResponse (management-exchange.ts).
 * @module
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ForwardClient } from './forward.js';
import { HeadBytes } from './head-bytes.js';
import { findHeadEnd, HEAD_INCOMPLETE, HEAD_TOO_LARGE, MAX_REQUEST_HEAD_BYTES, parseRequestHead, skipEmptyLines } from './request-head.js';
import type { RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';
import { ResponseWriter } from './response-writer.js';
import { RawBody, RequestBodyReader } from './request-body.js';
import type { BodySink } from './request-body.js';
import { proxyAnswer } from './responses.js';
import type { ProxyStatus } from './responses.js';

/** The exchange in progress (a forwarding job or a management request), as the connection drives it. */
export interface RawExchange {
  /** The exchange is over or the client left: release what it holds. */
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
  /** Flat [name, value, ...] of the same, for management answers. */
  readonly secureHeaders: readonly string[];
  /** Routes and starts a request: answers it, forwards it, or serves it as management. */
  dispatch(conn: RawConnection, head: RequestHead): void;
  forget(conn: RawConnection): void;
  /** A contained proxy bug (the connection is closed). */
  reportError(err: unknown): void;
}

const enum Phase { Head, Body, Done, Tunnel, Closing }

/** Bytes of a pipelined next request buffered before reading pauses. */
const MAX_BUFFERED = MAX_REQUEST_HEAD_BYTES + 4096;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

export class RawConnection implements ForwardClient {
  readonly socket: Socket;
  /** The client connection is TLS (a TLSSocket, or the HTTP/2 bridge's stand-in for one). */
  readonly isEncrypted: boolean;
  /** owner.secureHead on an encrypted connection, else ''. */
  readonly extraHead: string;
  private readonly owner: RawConnectionOwner;
  private phase = Phase.Head;
  /** Bytes received and not consumed: a head in pieces, or pipelined requests. */
  private readonly pending = new HeadBytes();
  /** When the head being awaited started (connection open or first byte); 0 while idle. */
  headSince: number;
  /** When the last exchange ended (keep-alive idle). */
  idleSince = 0;
  /** When the request in progress started (body timeout). */
  requestSince = 0;
  /** When the connection started closing (a client that never reads its refusal is cut). */
  closingSince = 0;
  /** Since when the client has read nothing of a response the socket could not take; 0: reading. */
  blockedSince = 0;
  /** ms a client may read nothing of its response before it is cut (the service's request_timeout). */
  writeTimeout = 0;
  private exchange: RawExchange | null = null;
  /** The request body being read (phase Body), or null. */
  private body: RequestBodyReader | null = null;
  private tunnel: Socket | null = null;
  private isHeadRequest = false;
  private isHttp10 = false;
  private wantsClose = false;
  private expectsContinue = false;
  /** The exchange is over; the rest of its request body is being read and dropped. */
  private isDiscardingBody = false;
  private readonly writer: ResponseWriter;
  private isAnswered = false;
  private isParsing = false;
  private isParseQueued = false;
  statusCode = 200;

  constructor(owner: RawConnectionOwner, socket: Socket) {
    this.owner = owner;
    this.socket = socket;
    this.isEncrypted = (socket as { encrypted?: boolean }).encrypted === true;
    this.extraHead = this.isEncrypted ? owner.secureHead : '';
    this.writer = new ResponseWriter(socket, this.extraHead);
    this.headSince = owner.now;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.on('drain', this.onDrain);
  }

  /** Headers every answer on this connection carries besides its own (HSTS on TLS), flat. */
  get secureHeaders(): readonly string[] {
    return this.isEncrypted ? this.owner.secureHeaders : [];
  }

  get isIdle(): boolean {
    return this.phase === Phase.Head && this.exchange === null && this.pending.view === null;
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

  /** Upgraded (WebSocket) or handed to the next server: bytes are relayed as they are. */
  get isTunnel(): boolean {
    return this.phase === Phase.Tunnel;
  }

  /** An exchange is writing its answer (not a tunnel, which has its own flow control). */
  get isAnswering(): boolean {
    return this.exchange !== null && this.phase !== Phase.Tunnel && this.phase !== Phase.Closing;
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.receive(chunk);
    } catch (err) {
      this.fault(err);
    }
  };

  private receive(chunk: Buffer): void {
    if (this.phase === Phase.Closing || this.phase === Phase.Tunnel) return;
    if (this.phase === Phase.Body) {
      this.feedBody(chunk);
      return;
    }
    const view = this.pending.append(chunk);
    if (this.exchange === null) {
      if (this.headSince === 0) this.headSince = this.owner.now;
      this.parse();
    } else if (view.length > MAX_BUFFERED) {
      // A pipelined request waits for the current answer; stop reading until then.
      this.socket.pause();
    }
  }

  /** A proxy bug stays with this connection: it is closed, the server goes on. */
  fault(err: unknown): void {
    this.owner.reportError(err);
    this.socket.destroy();
  }

  private readonly onEnd = (): void => {
    // A client that half-closes has left, as with node:http: what is in progress is cancelled.
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.phase = Phase.Closing;
    this.owner.forget(this);
    const exchange = this.exchange;
    this.exchange = null;
    this.body?.sink?.destroy();
    this.body = null;
    this.tunnel?.destroy();
    try {
      exchange?.finish();
    } catch (err) {
      this.owner.reportError(err);
    }
  };

  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onDrain = (): void => {
    this.blockedSince = 0;
    try {
      this.exchange?.resumeUpstream();
    } catch (err) {
      this.fault(err);
    }
  };

  /** Parses buffered heads while no exchange is in progress. */
  private parse(): void {
    if (this.isParsing) return;
    this.isParsing = true;
    const pending = this.pending;
    while (this.exchange === null && this.phase === Phase.Head && pending.view !== null) {
      const buf = pending.view;
      const start = skipEmptyLines(buf, 0);
      if (start > 0) {
        pending.reset(buf.subarray(start));
        continue;
      }
      const end = findHeadEnd(buf, 0, pending.scanned);
      if (end === HEAD_INCOMPLETE) {
        pending.scanned = buf.length;
        break;
      }
      if (end < 0) {
        this.refuse(end === HEAD_TOO_LARGE ? 431 : 400);
        break;
      }
      const head = parseRequestHead(buf, 0, end);
      if (typeof head === 'number') {
        this.refuse(head);
        break;
      }
      pending.reset(end === buf.length ? null : buf.subarray(end));
      this.startExchange(head);
    }
    this.isParsing = false;
  }

  private startExchange(head: RequestHead): void {
    if (head.hasUnknownExpectation) {
      this.refuse(417);
      return;
    }
    const hasBody = head.isChunked || head.contentLength > 0;
    this.isHeadRequest = head.method === 'HEAD';
    this.isHttp10 = !head.isHttp11;
    this.wantsClose = head.wantsClose;
    this.expectsContinue = head.expectsContinue && hasBody;
    this.isAnswered = false;
    this.statusCode = 200;
    this.requestSince = this.owner.now;
    this.headSince = 0;
    this.blockedSince = 0;
    if (hasBody) {
      this.phase = Phase.Body;
      this.body = new RequestBodyReader(head.contentLength, head.isChunked, this.socket);
    } else this.phase = Phase.Done;
    // Marks the exchange as in progress so an answer given during dispatch (404) ends it.
    this.exchange = NO_EXCHANGE;
    this.owner.dispatch(this, head);
    if (this.phase === Phase.Body && this.pending.view !== null) {
      const rest = this.pending.view;
      this.pending.reset(null);
      this.feedBody(rest);
    }
  }

  /** The request body as a stream for forwarding (null without one); taken during dispatch. */
  get requestBody(): Readable | null {
    if (this.body === null || this.body.sink !== null) return null;
    const stream = new RawBody(this.socket);
    this.body.sink = stream;
    return stream;
  }

  /** Management: the body goes to `sink` (an IncomingMessage), which gets its end at once without a body. */
  setBodySink(sink: BodySink): void {
    if (this.body !== null) this.body.sink = sink;
    else sink.push(null);
  }

  /** Called once the exchange exists; false: it is over already (the client left or was answered). */
  attach(exchange: RawExchange): boolean {
    if (this.exchange !== NO_EXCHANGE) return false;
    this.exchange = exchange;
    // The client waits for this before it sends the body (RFC 9110 §10.1.1).
    if (this.expectsContinue && this.phase === Phase.Body) this.socket.write(CONTINUE, 'latin1');
    return true;
  }

  private feedBody(buf: Buffer): void {
    const off = this.body!.feed(buf, 0);
    if (off < 0) {
      this.refuse(400);
      return;
    }
    if (off < buf.length) this.pending.append(buf.subarray(off));
    if (!this.body!.isDone) return;
    this.body = null;
    if (this.exchange !== null) this.phase = Phase.Done;
    else {
      // The rest of a body answered early was dropped: the connection goes on with the next request.
      this.isDiscardingBody = false;
      this.toNextRequest();
    }
  }

  respondHead(head: ResponseHead): void {
    this.statusCode = head.status;
    this.isAnswered = true;
    const close = this.wantsClose || this.owner.isClosing || this.phase === Phase.Body;
    this.wantsClose = this.writer.head(head, this.isHeadRequest, this.isHttp10, close, this.owner.date);
  }

  respondData(chunk: Buffer): boolean {
    return this.writer.data(chunk);
  }

  respondEnd(): void {
    this.writer.end();
    if (!this.socket.destroyed) this.endExchange();
  }

  /** A short answer of the proxy's own, or a cut once the instance's answer has begun. */
  respondError(status: 404 | 429 | 502 | 503 | 504): void {
    if (this.phase === Phase.Closing || this.exchange === null) return;
    if (this.isAnswered) {
      this.cut();
      return;
    }
    this.statusCode = status;
    this.isAnswered = true;
    this.writer.reset();
    if (this.phase === Phase.Body) this.wantsClose = true;
    this.socket.write(proxyAnswer(status, this.owner.date, this.wantsClose || this.owner.isClosing, this.extraHead), 'latin1');
    this.endExchange();
  }

  cut(): void {
    this.socket.destroy();
  }

  switchProtocols(head: ResponseHead, upstream: Socket, rest: Buffer): void {
    const socket = this.socket;
    upstream.on('error', () => upstream.destroy());
    if (socket.destroyed || this.phase === Phase.Closing) {
      upstream.destroy();
      return;
    }
    this.statusCode = 101;
    this.isAnswered = true;
    this.phase = Phase.Tunnel;
    this.tunnel = upstream;
    let out = `HTTP/1.1 101 ${head.statusText === '' ? 'Switching Protocols' : head.statusText}\r\n`;
    for (let i = 0; i < head.headers.length; i += 2) out += `${head.headers[i]}: ${head.headers[i + 1]}\r\n`;
    out += `Connection: upgrade\r\nUpgrade: ${head.upgrade}\r\n\r\n`;
    socket.off('data', this.onData);
    socket.write(out, 'latin1');
    if (rest.length > 0) socket.write(rest);
    // What the client sent after its upgrade request belongs to the new protocol.
    const early = this.pending.view;
    this.pending.reset(null);
    if (early !== null) upstream.write(early);
    upstream.once('close', () => socket.destroy());
    upstream.pipe(socket);
    socket.pipe(upstream);
    socket.resume();
  }

  /**
   * While the server drains, a request it must not serve itself (a wake, the API) goes to the
   * server in charge next, as this request again (asking it to close after its answer) followed by
   * the rest of this connection as it comes. A plain connection is handed to a relay process
   * (`relay`, which gets the socket and the bytes) so this server can exit meanwhile; an
   * encrypted one is relayed here over `connect` (its TLS state lives in this process).
   */
  handOff(head: RequestHead, via: { relay: (socket: Socket, bytes: Buffer) => void } | { connect: () => Socket }): void {
    const socket = this.socket;
    this.phase = Phase.Tunnel;
    this.exchange = null;
    this.body = null;
    socket.off('data', this.onData);
    socket.pause();
    const rest = this.pending.view;
    this.pending.reset(null);
    const again = Buffer.from(handedOffHead(head), 'latin1');
    const bytes = rest === null ? again : Buffer.concat([again, rest]);
    if ('relay' in via) {
      via.relay(socket, bytes);
      // The relay holds the socket now: closing this copy sends nothing to the client.
      socket.destroy();
      return;
    }
    const upstream = via.connect();
    this.tunnel = upstream;
    upstream.on('error', () => {
      upstream.destroy();
      socket.destroy();
    });
    upstream.once('connect', () => {
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.write(bytes);
      upstream.once('close', () => socket.end());
      upstream.pipe(socket);
      socket.pipe(upstream);
      socket.resume();
    });
  }

  private endExchange(): void {
    const exchange = this.exchange;
    this.exchange = null;
    if (exchange !== NO_EXCHANGE) exchange?.finish();
    if (this.phase === Phase.Closing) return;
    // An unread request body (answered early) leaves the stream out of step, unless it is dropped.
    if (this.wantsClose || this.owner.isClosing || (this.phase === Phase.Body && !this.isDiscardingBody)) {
      this.close();
      return;
    }
    if (this.phase !== Phase.Body) this.toNextRequest();
  }

  private toNextRequest(): void {
    this.phase = Phase.Head;
    this.idleSince = this.owner.now;
    this.blockedSince = 0;
    if (this.pending.view === null) return;
    this.headSince = this.owner.now;
    this.socket.resume();
    // Parse the next pipelined request after the upstream connection is back in its pool.
    if (!this.isParseQueued) {
      this.isParseQueued = true;
      queueMicrotask(this.parseQueued);
    }
  }

  /** A management answer is complete; `close`: it said Connection: close. */
  endManagement(close: boolean): void {
    if (close) this.wantsClose = true;
    else if (this.body !== null) {
      // Answered before its body was read (413): the rest is read and dropped, as node:http does.
      this.isDiscardingBody = true;
      this.body.sink = null;
    }
    this.endExchange();
  }

  private readonly parseQueued = (): void => {
    this.isParseQueued = false;
    try {
      if (this.phase === Phase.Head && this.exchange === null) this.parse();
    } catch (err) {
      this.fault(err);
    }
  };

  /** Refuses a malformed request: 400/408/417/431 and close (input is read and dropped meanwhile). */
  refuse(status: Extract<ProxyStatus, 400 | 408 | 417 | 431>): void {
    const exchange = this.exchange;
    this.exchange = null;
    this.body?.sink?.destroy();
    this.body = null;
    if (exchange !== null && exchange !== NO_EXCHANGE) exchange.finish();
    if (this.isAnswered) {
      this.socket.destroy();
      return;
    }
    this.phase = Phase.Closing;
    this.closingSince = this.owner.now;
    this.pending.reset(null);
    this.socket.resume();
    this.socket.end(proxyAnswer(status, this.owner.date, true, this.extraHead), 'latin1');
  }

  /** Ends the connection politely (idle keep-alive timeout, server closing). */
  close(): void {
    this.phase = Phase.Closing;
    this.closingSince = this.owner.now;
    this.pending.reset(null);
    this.socket.resume();
    this.socket.end();
  }
}

/** The request head again, asking the next server to close the connection after its answer. */
function handedOffHead(head: RequestHead): string {
  let out = `${head.method} ${head.target} HTTP/1.${head.isHttp11 ? 1 : 0}\r\n`;
  const raw = head.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (head.upgrade === undefined && (name === 'connection' || name === 'keep-alive')) continue;
    out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return `${out}${head.upgrade === undefined ? 'Connection: close\r\n' : ''}\r\n`;
}

/** Placeholder while the owner dispatches (the exchange does not exist yet). */
const NO_EXCHANGE: RawExchange = { finish: () => undefined, resumeUpstream: () => undefined };
