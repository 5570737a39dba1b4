/**
 * One request body read off a client connection, framed by Content-Length or chunked, pushed to
 * a sink with back-pressure: the forwarding job's body stream, or a management IncomingMessage.
 * @module
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ChunkedDecoder } from './chunked.js';
import type { ChunkSink } from './chunked.js';

/** Where request body bytes go. */
export interface BodySink {
  /** `null` ends the body. Returns false when the sink is full: reading pauses until it asks for more. */
  push(chunk: Buffer | null): boolean;
  destroy(): void;
}

/** The body stream a forwarding job streams upstream; reading more resumes the client socket. */
export class RawBody extends Readable {
  constructor(private readonly socket: Socket) {
    super();
  }

  override _read(): void {
    this.socket.resume();
  }
}

export class RequestBodyReader implements ChunkSink {
  sink: BodySink | null = null;
  isDone = false;
  private remaining: number;
  private readonly chunked: ChunkedDecoder | null;

  constructor(contentLength: number, isChunked: boolean, private readonly socket: Socket) {
    this.remaining = contentLength;
    this.chunked = isChunked ? new ChunkedDecoder(this) : null;
  }

  /** Consumes buf[from, …): returns where the body ended (buf.length while it goes on), or -1 if malformed. */
  feed(buf: Buffer, from: number): number {
    let off: number;
    if (this.chunked !== null) {
      off = this.chunked.feed(buf, from, buf.length);
      if (off < 0) return -1;
      this.isDone = this.chunked.isDone;
    } else {
      const n = Math.min(this.remaining, buf.length - from);
      this.onChunkData(from === 0 && n === buf.length ? buf : buf.subarray(from, from + n));
      off = from + n;
      this.remaining -= n;
      this.isDone = this.remaining === 0;
    }
    if (this.isDone) {
      this.sink?.push(null);
      this.sink = null;
    }
    return off;
  }

  onChunkData(data: Buffer): void {
    if (this.sink !== null && !this.sink.push(data)) this.socket.pause();
  }
}
