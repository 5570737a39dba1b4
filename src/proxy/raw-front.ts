/**
 * The raw front path's connection registry: accepts sockets as RawConnections, hands others to
 * the node:http server, and runs one periodic sweep (no timer per request) for the head timeout,
 * the request (body) timeout, the idle keep-alive timeout and connections left half-closed.
 * @module
 */
import type { Socket } from 'node:net';
import { RawConnection } from './raw-connection.js';
import type { RawConnectionOwner } from './raw-connection.js';
import type { RequestHead } from './request-head.js';

export interface RawFrontLimits {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
}

export type RawDispatch = (conn: RawConnection, head: RequestHead) => boolean;

export class RawFront implements RawConnectionOwner {
  now = Date.now();
  date = new Date(this.now).toUTCString();
  isClosing = false;
  /** Header lines added to every answer on an encrypted connection. */
  readonly secureHead: string;
  private readonly connections = new Set<RawConnection>();
  private readonly sweeper: NodeJS.Timeout;
  private dateSecond = Math.floor(this.now / 1000);

  constructor(
    private readonly limits: RawFrontLimits,
    readonly dispatch: RawDispatch,
    /** Gives a socket to the node:http server (its own connection listener). */
    private readonly nodeConnection: (socket: Socket) => void,
    secureHeaders: readonly string[] = [],
  ) {
    let head = '';
    for (let i = 0; i < secureHeaders.length; i += 2) head += `${secureHeaders[i]}: ${secureHeaders[i + 1]}\r\n`;
    this.secureHead = head;
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, limits.headersTimeout, limits.keepAliveTimeout));
    this.sweeper.unref();
  }

  accept(socket: Socket): void {
    this.connections.add(new RawConnection(this, socket));
  }

  handOff(_conn: RawConnection, socket: Socket): void {
    this.nodeConnection(socket);
  }

  forget(conn: RawConnection): void {
    this.connections.delete(conn);
  }

  /** Ends keep-alive connections with no exchange in progress. */
  closeIdle(): void {
    for (const conn of this.connections) if (conn.isIdle) conn.socket.destroy();
  }

  closeAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
  }

  /** The server stops: connections close as their exchange ends, the sweep stops once they have. */
  stop(): void {
    this.isClosing = true;
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
        if (this.isClosing || now - conn.idleSince > keepAliveTimeout) conn.socket.destroy();
      } else if (conn.isReadingBody && now - conn.requestSince > requestTimeout) {
        conn.refuse(408);
      }
    }
  }
}
