/**
 * Two connected in-memory Duplex streams that look enough like sockets for node:http on one side
 * and the front server on the other: what one end writes the other reads, with back-pressure, and
 * ending or destroying one end ends or destroys the other. The server end carries the real
 * client's address and `encrypted`, so the front applies the same rules as on a TLS socket.
 * @module
 */
import { Duplex } from 'node:stream';

export class PairEnd extends Duplex {
  peer!: PairEnd;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  readonly encrypted: boolean;
  /** The peer's write waiting for this end's reader to want more (back-pressure). */
  private pendingWrite: (() => void) | null = null;

  constructor(remoteAddress: string | undefined, remotePort: number | undefined, encrypted: boolean) {
    super({ allowHalfOpen: false });
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.encrypted = encrypted;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.push(chunk)) callback();
    else this.peer.pendingWrite = callback;
  }

  override _read(): void {
    const pending = this.pendingWrite;
    if (pending === null) return;
    this.pendingWrite = null;
    pending();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }

  // Socket methods node:http calls; nothing to tune in memory.
  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/** [client end, server end]; the server end reports `remoteAddress` and `encrypted: true`. */
export function socketPair(remoteAddress: string | undefined, remotePort: number | undefined): [PairEnd, PairEnd] {
  const client = new PairEnd('127.0.0.1', undefined, false);
  const server = new PairEnd(remoteAddress, remotePort, true);
  client.peer = server;
  server.peer = client;
  return [client, server];
}
