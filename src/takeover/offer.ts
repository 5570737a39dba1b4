/**
 * The running server's side of a take-over: listens on the data dir's control socket; when the
 * next `ten serve` connects, starts the relay (relay.ts) with that connection and the listening
 * sockets, and goes through the hand-over it asks for: `detach` (stop accepting, stop all
 * lifecycle work, store the output offsets) before the next one adopts the tenants, then `done`
 * once it serves. One take-over at a time; other connections are closed.
 * @module
 */
import { spawn } from 'node:child_process';
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { controlSocketPath } from './control-socket.js';
import type { TakeOverMessage } from './control-socket.js';

export interface HandedListener {
  /** 'http' or 'https': the next server puts each where its own config has it. */
  readonly name: string;
  readonly server: Server;
}

export interface TakeOverOffer {
  readonly dataDir: string;
  /** The listening sockets, in the order they are passed. */
  readonly listeners: () => readonly HandedListener[];
  /** Stop accepting and every lifecycle action, store output offsets: the next server adopts after this. */
  readonly detach: () => Promise<void>;
  /** The next server serves (or went away after `detach`): drain and exit. */
  readonly done: (outcome: 'serving' | 'lost') => void;
  readonly log: (line: string) => void;
}

/** The relay beside this module (compiled .js, or .ts under tsx). */
const RELAY = fileURLToPath(new URL(`./relay${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/**
 * Starts accepting take-overs; undefined when the data dir's path is too long for a unix socket.
 * Close it when the server exits on its own (it is left open during a take-over, refusing others).
 */
export async function offerTakeOver(offer: TakeOverOffer): Promise<{ close(): void } | undefined> {
  const path = controlSocketPath(offer.dataDir);
  if (path === undefined) {
    offer.log('take-over is off: the data dir path is too long for its control socket (over 93 bytes)');
    return undefined;
  }
  // Left by a server that died: nobody listens on it any more (a live one was taken over instead).
  try { unlinkSync(path); } catch { /* none */ }
  let busy = false;
  const control = createServer((conn) => {
    if (busy) {
      conn.destroy();
      return;
    }
    busy = true;
    handOver(conn, offer, () => { busy = false; });
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  control.on('error', (err) => offer.log(`take-over control socket: ${err.message}`));
  return {
    close(): void {
      control.close();
      try { unlinkSync(path); } catch { /* gone */ }
    },
  };
}

/** `abandoned`: the other side left before asking anything; this server goes on as it was. */
function handOver(conn: Socket, offer: TakeOverOffer, abandoned: () => void): void {
  const listeners = offer.listeners();
  const fds = listeners.map((l) => (l.server as unknown as { _handle: { fd: number } })._handle.fd);
  const relay = spawn(process.execPath, [...process.execArgv, RELAY], {
    stdio: ['pipe', 'pipe', 'inherit', conn, ...fds],
    env: { ...process.env, NODE_CHANNEL_FD: '3', TENEMENT_LISTENERS: listeners.map((l) => l.name).join(',') },
  });
  // The relay holds its own copies now.
  conn.destroy();
  let state: 'offered' | 'detaching' | 'detached' | 'done' = 'offered';
  const finish = (outcome: 'serving' | 'lost'): void => {
    if (state === 'done') return;
    state = 'done';
    offer.done(outcome);
  };
  createInterface({ input: relay.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as TakeOverMessage;
    if (msg.kind === 'hello' && state === 'offered') {
      state = 'detaching';
      offer.log(`ten serve (pid ${msg.pid}) is taking over`);
      offer.detach().then(() => {
        state = 'detached';
        relay.stdin!.write(`${JSON.stringify({ kind: 'detached' } satisfies TakeOverMessage)}\n`);
      }, (err: unknown) => {
        offer.log(`take-over failed: ${err instanceof Error ? err.message : String(err)}`);
        relay.kill();
      });
    } else if (msg.kind === 'serving') finish('serving');
  });
  relay.stdin!.on('error', () => undefined);
  relay.once('exit', () => {
    // Before `hello` nothing changed: this server goes on. After, the tenants are left for the next start.
    if (state === 'offered') abandoned();
    else finish('lost');
  });
}
