/**
 * Server-sent event streams (`/api/events`, `/api/logs/stream`) with the two limits a long-lived
 * response needs: a cap on open streams, and back-pressure — a client that stops reading is dropped
 * once the output queued for it passes a bound, instead of being buffered without end.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { TenementError } from '../core/errors.js';

export interface SseLimits {
  /** Open streams, events and logs together; one more gets 503 `too_many_streams`. */
  readonly maxClients: number;
  /** Bytes queued for one client past which it is dropped as not reading. */
  readonly maxBufferedBytes: number;
  /** Period of the keep-alive comment, so proxies and idle timers don't close a quiet stream. */
  readonly heartbeatMs: number;
  /** How long `drained()` waits for a client to read before dropping it. */
  readonly stallMs: number;
}

/** `max_clients` comes from `[settings] max_sse_clients`; the rest are fixed. */
export const DEFAULT_SSE_LIMITS: SseLimits = { maxClients: 100, maxBufferedBytes: 1024 * 1024, heartbeatMs: 15_000, stallMs: 30_000 };

/** Seconds a refused client is told to wait (`Retry-After`). */
const RETRY_AFTER_S = 5;
/** Queued bytes under which a bulk writer (log history) goes on writing. */
const LOW_WATER_BYTES = 64 * 1024;

export interface SseStream {
  /** Queues one event block; false once the stream is closed (ended, or dropped for not reading). */
  write(text: string): boolean;
  /**
   * For bulk output (history): resolves true once the client has read the queue down, false if
   * the stream closed or the client read nothing for `stallMs` (then it is dropped).
   */
  drained(): Promise<boolean>;
  /** Drops the client as too far behind (its connection is cut; it may resume by reconnecting). */
  drop(): void;
  /** Runs once when the stream closes, for any reason. */
  onClose(listener: () => void): void;
  readonly isClosed: boolean;
}

/** Counts the open streams of one server and opens new ones within the limits. */
export class SseStreams {
  private readonly limits: SseLimits;
  private open = 0;
  /** Clients dropped for not reading, since start (for tests and logs). */
  dropped = 0;

  private readonly onDrop: (() => void) | undefined;

  /** `onDrop` runs whenever a client is dropped for not reading (the server logs it). */
  constructor(limits: SseLimits, onDrop?: () => void) {
    this.limits = limits;
    this.onDrop = onDrop;
  }

  get openCount(): number {
    return this.open;
  }

  /**
   * Sends the event-stream head on `res` and returns the stream; throws `too_many_streams`
   * (before anything is written) when `maxClients` are open already.
   */
  start(res: ServerResponse, first: string): SseStream {
    if (this.open >= this.limits.maxClients) {
      throw new TenementError('too_many_streams', `too many open event streams (max_sse_clients = ${this.limits.maxClients}); try again later`, {
        details: { retryAfterS: RETRY_AFTER_S },
      });
    }
    this.open++;
    const limit = this.limits.maxBufferedBytes;
    const listeners: Array<() => void> = [];
    let closed = false;
    const heartbeat = setInterval(() => stream.write(': heartbeat\n\n'), this.limits.heartbeatMs);
    heartbeat.unref();
    const drop = (): void => {
      if (closed) return;
      this.dropped++;
      res.destroy();
      close();
      this.onDrop?.();
    };
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.open--;
      clearInterval(heartbeat);
      for (const l of listeners.splice(0)) l();
    };
    const stream: SseStream = {
      write: (text) => {
        if (closed) return false;
        res.write(text);
        if (res.writableLength <= limit) return true;
        drop();
        return false;
      },
      drained: () => {
        if (closed) return Promise.resolve(false);
        if (res.writableLength <= LOW_WATER_BYTES) return Promise.resolve(true);
        return new Promise<boolean>((resolve) => {
          const done = (ok: boolean): void => {
            clearTimeout(timer);
            res.off('drain', onDrain);
            resolve(ok);
          };
          const onDrain = (): void => done(!closed);
          const timer = setTimeout(() => {
            drop();
            done(false);
          }, this.limits.stallMs);
          res.on('drain', onDrain);
          listeners.push(() => done(false));
        });
      },
      drop,
      onClose: (listener) => {
        if (closed) listener();
        else listeners.push(listener);
      },
      get isClosed() {
        return closed;
      },
    };
    res.once('close', close);
    // A client gone before its stream began must not hold a slot ('close' has been emitted already).
    if (res.destroyed) close();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    stream.write(first);
    return stream;
  }
}
