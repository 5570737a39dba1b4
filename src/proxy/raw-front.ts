/**
 * The front server's connection registry: accepts sockets as RawConnections up to
 * `max_connections` (beyond it a short 503 and close), and runs one periodic sweep (no timer per
 * request) for the head timeout, the request (body) timeout, the idle keep-alive timeout, clients
 * that read none of their response, and connections left half-closed.
 * @module
 */
import type { Socket } from 'node:net';
import { RawConnection } from './raw-connection.js';
import type { RawConnectionOwner } from './raw-connection.js';
import type { RequestHead } from './request-head.js';
import { overloadAnswer } from './responses.js';

export interface RawFrontLimits {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxConnections: number;
}

/** How the connections of a server that exits are let go (docs/lifecycle.md#restarts). */
export interface DrainLimits {
  /** ms a keep-alive connection may stay idle once draining begins before it is closed. */
  readonly idleGraceMs: number;
  /** ms upgraded connections (WebSocket) are kept before they are cut. */
  readonly tunnelMs: number;
}

export class RawFront implements RawConnectionOwner {
  now = Date.now();
  date = new Date(this.now).toUTCString();
  isClosing = false;
  /** Header lines added to every answer on an encrypted connection. */
  readonly secureHead: string;
  private readonly connections = new Set<RawConnection>();
  private readonly sweeper: NodeJS.Timeout;
  private dateSecond = Math.floor(this.now / 1000);
  private drainSince = 0;
  private drainLimits: DrainLimits = { idleGraceMs: 0, tunnelMs: 0 };
  private drained: Array<() => void> = [];

  constructor(
    private readonly limits: RawFrontLimits,
    readonly dispatch: (conn: RawConnection, head: RequestHead) => void,
    readonly reportError: (err: unknown) => void,
    /** Flat [name, value, ...] added to every answer on an encrypted connection (HSTS). */
    readonly secureHeaders: readonly string[] = [],
  ) {
    let head = '';
    for (let i = 0; i < secureHeaders.length; i += 2) head += `${secureHeaders[i]}: ${secureHeaders[i + 1]}\r\n`;
    this.secureHead = head;
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, limits.headersTimeout, limits.keepAliveTimeout));
    this.sweeper.unref();
  }

  get size(): number {
    return this.connections.size;
  }

  accept(socket: Socket): void {
    if (this.connections.size >= this.limits.maxConnections) {
      refuseOverload(socket, this.date);
      return;
    }
    this.connections.add(new RawConnection(this, socket));
  }

  forget(conn: RawConnection): void {
    this.connections.delete(conn);
    if (this.connections.size === 0 && this.drained.length > 0) for (const done of this.drained.splice(0)) done();
  }

  /** Ends keep-alive connections with no exchange in progress. */
  closeIdle(): void {
    for (const conn of this.connections) if (conn.isIdle) conn.socket.destroy();
  }

  closeAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
  }

  /** The server stops: connections close as their exchange ends. */
  stop(): void {
    this.isClosing = true;
  }

  /**
   * Lets every connection go without resetting one: an exchange in progress finishes and its answer
   * says `Connection: close`; an idle keep-alive connection gets `idleGraceMs` for one more request
   * (answered the same way), then is closed; tunnels stay up to `tunnelMs`. Resolves when none is left.
   */
  drain(limits: DrainLimits): Promise<void> {
    this.stop();
    this.drainSince = Date.now();
    this.drainLimits = limits;
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  dispose(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    this.now = now;
    const second = Math.floor(now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.date = new Date(now).toUTCString();
    }
    const { headersTimeout, requestTimeout, keepAliveTimeout } = this.limits;
    for (const conn of this.connections) {
      if (conn.isClosing) {
        if (now - conn.closingSince > headersTimeout) conn.socket.destroy();
      } else if (conn.isWaitingForHead) {
        if (now - conn.headSince > headersTimeout) conn.refuse(408);
      } else if (conn.isIdle) {
        if (this.drainSince > 0) {
          if (now - Math.max(conn.idleSince, this.drainSince) > this.drainLimits.idleGraceMs) conn.close();
        } else if (this.isClosing || now - conn.idleSince > keepAliveTimeout) conn.socket.destroy();
      } else if (conn.isTunnel) {
        if (this.drainSince > 0 && now - this.drainSince > this.drainLimits.tunnelMs) conn.socket.destroy();
      } else {
        if (conn.isReadingBody && now - conn.requestSince > requestTimeout) conn.refuse(408);
        else if (conn.isAnswering && conn.socket.writableNeedDrain) {
          // A client that reads none of its answer is cut, releasing the instance (it may idle).
          if (conn.blockedSince === 0) conn.blockedSince = now;
          else if (now - conn.blockedSince > conn.writeTimeout) conn.socket.destroy();
        }
      }
    }
  }
}

/** Over max_connections: a short 503 and close, without reading the request. */
function refuseOverload(socket: Socket, date: string): void {
  socket.on('error', () => socket.destroy());
  socket.setTimeout(1000, () => socket.destroy());
  socket.resume();
  socket.end(overloadAnswer(date), 'latin1');
}
