/**
 * Writes an instance's validated answer to a client socket: the head (a sized answer's head is
 * held to go out with its first body bytes in one write), then the body as is or re-chunked.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { hasNoBody } from './response-head.js';
import type { ResponseHead } from './response-head.js';

/** Answers up to this size are written together with their head as one latin1 string. */
const SMALL_BODY_BYTES = 4096;

export class ResponseWriter {
  private isChunked = false;
  /** The response head, held back to go out with the first body bytes. */
  private pendingHead: string | null = null;

  constructor(
    private readonly socket: Socket,
    /** Header lines added to every head (HSTS on an encrypted connection), or ''. */
    private readonly extraHead: string,
  ) {}

  /** Forgets an unsent head (the answer became an error of the proxy's own). */
  reset(): void {
    this.isChunked = false;
    this.pendingHead = null;
  }

  /**
   * Writes or holds the head. `isHttp10`: no chunked bodies, keep-alive only when asked for;
   * `close`: the connection closes after this answer so far. Returns whether it closes after all.
   */
  head(head: ResponseHead, isHeadRequest: boolean, isHttp10: boolean, close: boolean, date: string): boolean {
    const status = head.status;
    this.isChunked = false;
    let out = `HTTP/1.1 ${status} ${head.statusText === '' ? STATUS_CODES[status] ?? '' : head.statusText}\r\n`;
    const headers = head.headers;
    let hasDate = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      out += `${name}: ${headers[i + 1]!}\r\n`;
    }
    if (!hasDate) out += `Date: ${date}\r\n`;
    out += this.extraHead;
    if (!isHeadRequest && !hasNoBody(status) && head.contentLength < 0) {
      // An HTTP/1.0 client knows no chunks: its body ends when the connection does.
      if (isHttp10) close = true;
      else {
        this.isChunked = true;
        out += 'Transfer-Encoding: chunked\r\n';
      }
    }
    if (close) out += 'Connection: close\r\n';
    else if (isHttp10) out += 'Connection: keep-alive\r\n';
    out += '\r\n';
    // A sized answer sends head and body together; a streamed one (SSE) gets its head now.
    if (head.contentLength > 0 && !isHeadRequest) this.pendingHead = out;
    else this.socket.write(out, 'latin1');
    return close;
  }

  /** Returns false when the socket is full. */
  data(chunk: Buffer): boolean {
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
    if (!this.isChunked) return socket.write(chunk);
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    const ok = socket.write('\r\n', 'latin1');
    socket.uncork();
    return ok;
  }

  end(): void {
    if (this.socket.destroyed) return;
    if (this.pendingHead !== null) {
      this.socket.write(this.pendingHead, 'latin1');
      this.pendingHead = null;
    }
    if (this.isChunked) this.socket.write('0\r\n\r\n', 'latin1');
  }
}
