/**
 * Protocol upgrades (WebSocket): once routed, the request head is re-sent to the instance over
 * a fresh TCP connection and the two sockets are piped both ways until either side closes. The
 * instance counts the tunnel as an open connection for its whole life, so it is never idled.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyLogger, ForwardContext } from './forward.js';
import { proxyErrorHead } from './responses.js';
import type { InstanceRoute } from './route-table.js';
import { waitUntilReachable } from './wait-ready.js';

function requestHead(req: IncomingMessage, headers: readonly string[]): string {
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

function refuse(client: Duplex, status: 502 | 503): void {
  if (!client.destroyed) client.end(proxyErrorHead(status));
}

/** Tunnels an upgrade request to `route`; `headers` are the rewritten upstream request headers. */
export function tunnelUpgrade(ctx: ForwardContext, route: InstanceRoute, req: IncomingMessage, client: Duplex, head: Buffer, headers: readonly string[]): void {
  const handle = route.handle;
  handle.connectionOpened();
  let isClosed = false;
  const release = (): void => {
    if (isClosed) return;
    isClosed = true;
    handle.connectionClosed();
  };
  client.on('error', () => client.destroy());
  client.once('close', release);

  const open = (): void => {
    if (client.destroyed) return;
    const upstream = connect(handle.port!, '127.0.0.1');
    upstream.setNoDelay(true);
    let isConnected = false;
    upstream.once('connect', () => {
      isConnected = true;
      upstream.write(requestHead(req, headers));
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!isConnected) {
        logWarn(ctx.logger, handle.name, err.code);
        refuse(client, 502);
      } else {
        client.destroy();
      }
    });
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
  };

  if (route.isReachable) {
    open();
    return;
  }
  const deadline = Date.now() + handle.serviceConfig.startupTimeoutMs;
  void waitUntilReachable(route, ctx.supervisor, deadline, () => client.destroyed).then((outcome) => {
    if (outcome === 'ready') open();
    else if (outcome === 'unavailable') refuse(client, 503);
  });
}

function logWarn(logger: ProxyLogger, instance: string, code: string | undefined): void {
  logger.warn({ instance, code }, 'upgrade connection to instance failed');
}
