/**
 * Relays one client connection a draining server handed on (raw-connection.ts `handOff`) to the
 * server now in charge, in a process of its own so the old server can exit meanwhile: the client
 * socket is fd 3, the bytes already read from it (the request head again, and what followed) come
 * on stdin, the next server's listener is TENEMENT_HAND_OFF=host:port.
 * @module
 */
import { connect, Socket } from 'node:net';

const UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 20\r\ncache-control: no-store\r\nconnection: close\r\n\r\nservice unavailable\n';
const [host, port] = splitTarget(process.env.TENEMENT_HAND_OFF ?? '');
const client = new Socket({ fd: 3, readable: true, writable: true });
client.pause();
const upstream = connect({ host, port, noDelay: true });
let isConnected = false;
client.on('error', () => upstream.destroy());
upstream.on('error', () => {
  // No server listens (it was a restart with a gap): the client gets an answer, not a cut.
  if (!isConnected) client.end(UNAVAILABLE, 'latin1');
  else client.destroy();
});
upstream.once('connect', () => {
  isConnected = true;
  process.stdin.pipe(upstream, { end: false });
  process.stdin.once('end', () => {
    upstream.pipe(client);
    client.pipe(upstream);
    client.resume();
  });
});

function splitTarget(target: string): [string, number] {
  const i = target.lastIndexOf(':');
  return [target.slice(0, i).replace(/^\[|\]$/g, ''), Number(target.slice(i + 1))];
}
