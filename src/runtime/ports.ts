/**
 * Hands out ports from `port_range`: never one already given to a live instance, and only one
 * that is really free on 127.0.0.1 right now.
 * @module
 */
import { createServer } from 'node:net';
import { TenementError } from '../core/errors.js';

export class PortAllocator {
  readonly #low: number;
  readonly #high: number;
  readonly #handedOut = new Set<number>();
  /** Next port to try; scanning moves on instead of re-testing the low, busy end every time. */
  #cursor: number;

  constructor(range: readonly [number, number]) {
    const [low, high] = range;
    if (!Number.isInteger(low) || !Number.isInteger(high) || low < 1 || high > 65535 || low > high) {
      throw new TenementError('invalid_config', `port range ${low}-${high} is not a range of ports (1-65535, low first)`);
    }
    this.#low = low;
    this.#high = high;
    // A random starting point: two servers sharing a range (or one restarted while the kernel still
    // holds the old ports in TIME_WAIT) rarely race for the same port.
    this.#cursor = low + Math.floor(Math.random() * (high - low + 1));
  }

  /** A port free on 127.0.0.1 and handed to no one else until release(). */
  async allocate(): Promise<number> {
    const size = this.#high - this.#low + 1;
    for (let tried = 0; tried < size; tried += 1) {
      const port = this.#nextUnclaimed();
      if (port === undefined) break;
      // Claimed before the await, so concurrent callers never test (or get) the same port.
      this.#handedOut.add(port);
      if (await isFreeOnLoopback(port)) return port;
      this.#handedOut.delete(port);
    }
    throw new TenementError('unavailable', `no free port in ${this.#low}-${this.#high}`, {
      hint: 'widen [settings] port_range or stop some instances',
    });
  }

  release(port: number): void {
    this.#handedOut.delete(port);
  }

  /** Marks a port as taken by a process found alive (re-adopted); false if it already was. */
  reserve(port: number): boolean {
    if (this.#handedOut.has(port)) return false;
    this.#handedOut.add(port);
    return true;
  }

  #nextUnclaimed(): number | undefined {
    const size = this.#high - this.#low + 1;
    for (let step = 0; step < size; step += 1) {
      const port = this.#cursor;
      this.#cursor = port === this.#high ? this.#low : port + 1;
      if (!this.#handedOut.has(port)) return port;
    }
    return undefined;
  }
}

function isFreeOnLoopback(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
