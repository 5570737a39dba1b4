/**
 * The running server's side of a take-over channel. Started by it with the accepted control
 * connection as fd 3 (NODE_CHANNEL_FD, so node speaks its IPC protocol on it) and the listening
 * sockets as fds 4…: it relays JSON lines between its stdin/stdout (the running server) and the
 * channel (the next server), and on request sends a listening socket over the channel
 * (SCM_RIGHTS), which node only does for a process with a channel of its own.
 * @module
 */
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import type { TakeOverMessage } from './control-socket.js';

const names = (process.env.TENEMENT_LISTENERS ?? '').split(',').filter((n) => n !== '');
const send = (msg: TakeOverMessage): void => void process.send?.(msg);

// The running server may exit first (SIGTERM during the take-over): the channel goes on without it.
process.stdout.on('error', () => undefined);
createInterface({ input: process.stdin }).on('line', (line) => send(JSON.parse(line) as TakeOverMessage));
process.on('message', (msg: TakeOverMessage) => {
  if (msg.kind !== 'ask-listener') {
    process.stdout.write(`${JSON.stringify(msg)}\n`);
    return;
  }
  const i = names.indexOf(msg.name);
  if (i < 0) {
    send({ kind: 'listener', name: msg.name, found: false });
    return;
  }
  // One at a time, each sent in the tick it starts listening and closed at once after: this
  // process never accepts a connection itself (a second handle would wait here for the first's ack).
  const server = createServer();
  server.listen({ fd: 4 + i });
  process.send?.({ kind: 'listener', name: msg.name, found: true } satisfies TakeOverMessage, server, () => server.close());
});
process.on('disconnect', () => process.exit(0));
