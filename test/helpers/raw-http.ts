/**
 * Raw HTTP/1.x over one loopback TCP connection, for tests that must send bytes no HTTP client
 * library would (HTTP/1.0, pipelining, malformed heads) and see every byte of the answer.
 * @module
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface RawConversation {
  readonly socket: Socket;
  /** Everything received so far (latin1). */
  text(): string;
  readonly closed: Promise<void>;
  isClosed(): boolean;
  /** Resolves once the received text satisfies `check`, or rejects after `timeoutMs`. */
  until(check: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  send(bytes: string | Buffer): void;
}

export async function openRaw(port: number): Promise<RawConversation> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  let isClosed = false;
  const waiters = new Set<() => void>();
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
    for (const w of waiters) w();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => {
    isClosed = true;
    for (const w of waiters) w();
    resolve();
  }));
  return {
    socket,
    text: () => received,
    closed,
    isClosed: () => isClosed,
    send: (bytes) => void socket.write(bytes),
    until: (check, timeoutMs = 10_000) => new Promise<string>((resolve, reject) => {
      const done = (): void => {
        if (check(received)) {
          waiters.delete(done);
          clearTimeout(timer);
          resolve(received);
        } else if (isClosed) {
          waiters.delete(done);
          clearTimeout(timer);
          reject(new Error(`connection closed; received: ${JSON.stringify(received.slice(0, 400))}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        reject(new Error(`no matching answer within ${timeoutMs} ms; received: ${JSON.stringify(received.slice(0, 400))}`));
      }, timeoutMs);
      waiters.add(done);
      done();
    }),
  };
}

/** Sends `bytes` on a new connection and resolves to everything received until the server closes it. */
export async function rawUntilClosed(port: number, bytes: string | Buffer, timeoutMs = 10_000): Promise<string> {
  const conv = await openRaw(port);
  conv.send(bytes);
  const timer = setTimeout(() => conv.socket.destroy(), timeoutMs);
  await conv.closed;
  clearTimeout(timer);
  return conv.text();
}

/** How many times `what` occurs in `text`. */
export function count(text: string, what: string): number {
  return text.split(what).length - 1;
}
