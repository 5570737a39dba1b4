/**
 * Take-over (docs/lifecycle.md#take-over): the running `ten serve` listens on a unix socket in its
 * data dir; a `ten serve` started on the same data dir connects to it and takes over. The socket is
 * mode 0600 in a 0700 data dir: only the server's own user (and root) can reach it.
 * @module
 */
import { join } from 'node:path';

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** The control socket of a data dir, or undefined when its path is too long for a unix socket. */
export function controlSocketPath(dataDir: string): string | undefined {
  const path = join(dataDir, 'takeover.sock');
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH ? path : undefined;
}

/** The messages of a take-over, between the next server and the running one (through its relay). */
export type TakeOverMessage =
  | { kind: 'hello'; pid: number }
  | { kind: 'detached' }
  | { kind: 'ask-listener'; name: string }
  | { kind: 'listener'; name: string; found: boolean }
  | { kind: 'serving' };

/** Environment of the re-spawned next server: its connection to the running one is fd 3. */
export const TAKEOVER_ENV = 'TENEMENT_TAKEOVER';
