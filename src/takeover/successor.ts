/**
 * The next server's side of a take-over. `ten serve` finds the running server's control socket
 * and re-runs itself as its own child with that connection as its node IPC channel (fd 3): only a
 * process started with a channel can receive listening sockets (SCM_RIGHTS) with public node APIs.
 * The first process stays as a thin parent that forwards signals and the exit code.
 * @module
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { TenementError } from '../core/errors.js';
import { controlSocketPath, TAKEOVER_ENV } from './control-socket.js';
import type { TakeOverMessage } from './control-socket.js';

/** A connection to the server running on this data dir, or undefined when none runs. */
export function connectRunningServer(dataDir: string): Promise<Socket | undefined> {
  const path = controlSocketPath(dataDir);
  if (path === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
  });
}

/** Re-runs this `ten serve` as a child that owns `conn` as its channel; exits with the child's code. */
export function runTakeOverChild(conn: Socket): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', conn],
    env: { ...process.env, NODE_CHANNEL_FD: '3', [TAKEOVER_ENV]: '1' },
  });
  conn.destroy();
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.once('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
}

/** In the re-run child: the channel to the running server, or undefined for an ordinary start. */
export function takeOverChannel(env: NodeJS.ProcessEnv = process.env): Predecessor | undefined {
  const isTakeOver = env[TAKEOVER_ENV] === '1';
  delete env[TAKEOVER_ENV];
  return isTakeOver && process.send !== undefined ? new Predecessor() : undefined;
}

const lost = (): TenementError => new TenementError('unavailable', 'the running ten serve ended the take-over (another one is in progress, or it stopped)', {
  hint: 'start ten serve again: the instances keep running and are adopted',
});

/** The running server, as the next one talks to it. */
export class Predecessor {
  /** Each pending exchange: its answer check (on every message), or its refusal (channel gone). */
  private readonly handlers = new Map<(msg: TakeOverMessage, handle: unknown) => void, (err: Error) => void>();
  private isGone = false;

  constructor() {
    process.on('message', (msg: TakeOverMessage, handle: unknown) => { for (const h of [...this.handlers.keys()]) h(msg, handle); });
    process.once('disconnect', () => this.fail());
  }

  private fail(): void {
    this.isGone = true;
    for (const reject of this.handlers.values()) reject(lost());
    this.handlers.clear();
  }

  /** Resolves once the running server stopped accepting and every lifecycle action, its output offsets stored. */
  detach(): Promise<void> {
    return this.exchange({ kind: 'hello', pid: process.pid }, (msg) => (msg.kind === 'detached' ? true : undefined)).then(() => undefined);
  }

  /**
   * Its listening socket `name` ('http', 'https'), or undefined if it has none. It accepts from the
   * moment it is received: put it in service before anything else can run (no await in between
   * but this one's).
   */
  listener(name: string): Promise<Server | undefined> {
    return this.exchange({ kind: 'ask-listener', name }, (msg, handle) => {
      if (msg.kind !== 'listener' || msg.name !== name) return undefined;
      return { server: msg.found ? handle as Server : undefined };
    }).then((r) => r.server);
  }

  /** This server serves: the running one drains and exits. */
  serving(): void {
    if (!process.connected) return;
    process.send?.({ kind: 'serving' } satisfies TakeOverMessage, undefined, undefined, () => { if (process.connected) process.disconnect(); });
  }

  private exchange<T>(ask: TakeOverMessage, answer: (msg: TakeOverMessage, handle: unknown) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.isGone) return reject(lost());
      const handler = (msg: TakeOverMessage, handle: unknown): void => {
        const result = answer(msg, handle);
        if (result === undefined) return;
        this.handlers.delete(handler);
        resolve(result);
      };
      this.handlers.set(handler, reject);
      // The channel may have closed before 'disconnect' is emitted: the send then fails here.
      if (!process.connected) this.fail();
      else process.send?.(ask, undefined, undefined, (err: Error | null) => { if (err !== null) this.fail(); });
    });
  }
}
