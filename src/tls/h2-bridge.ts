/**
 * HTTP/2 for browsers, in front of the same HTTP/1.1 front server: each h2 stream becomes one
 * HTTP/1.1 request written over an in-memory connection (socket-pair.ts) that the front accepts
 * like any TLS connection, so routing, limits, header rules, management and error answers are the
 * front's own; the answer is relayed back as the stream's response. Instances never see HTTP/2.
 * @module
 */
import { request } from 'node:http';
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { constants, createServer } from 'node:http2';
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Server } from 'node:net';
import { socketPair } from './socket-pair.js';

export interface H2BridgeLimits {
  /** ms an h2 connection with no open stream stays open. */
  readonly idleTimeout: number;
  readonly maxConcurrentStreams: number;
  readonly maxHeaderListSize: number;
}

export const H2_LIMITS: H2BridgeLimits = { idleTimeout: 60_000, maxConcurrentStreams: 100, maxHeaderListSize: 16 * 1024 };

/** Headers that are connection-specific in HTTP/1.1 and must not appear in an h2 response. */
const NOT_IN_H2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export interface H2Bridge {
  /** Never listened on: TLS sockets that chose h2 are emitted to it as 'connection'. */
  readonly server: Http2Server;
  /** Ends every session (streams in progress finish first). */
  close(): void;
}

export function createH2Bridge(front: Server, limits: H2BridgeLimits = H2_LIMITS): H2Bridge {
  const sessions = new Set<ServerHttp2Session>();
  const h2 = createServer({
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderListSize },
    maxHeaderListPairs: 256,
  });
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(limits.idleTimeout, () => session.close());
    session.on('error', () => session.destroy());
  });
  h2.on('stream', (stream, headers) => bridgeStream(front, stream, headers));
  return {
    server: h2,
    close(): void {
      h2.close();
      for (const session of sessions) session.close();
    },
  };
}

function bridgeStream(front: Server, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  stream.on('error', () => stream.destroy());
  const method = headers[':method'];
  const path = headers[':path'];
  if (method === undefined || path === undefined || method === 'CONNECT') {
    respondStatus(stream, 400);
    return;
  }
  const socket = stream.session?.socket;
  const [client, server] = socketPair(socket?.remoteAddress, socket?.remotePort);
  front.emit('connection', server);

  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined || name === 'expect') continue;
    out[name] = value;
  }
  // HTTP/2 carries the host as :authority; HTTP/1.1 needs it as Host.
  if (out.host === undefined && headers[':authority'] !== undefined) out.host = headers[':authority'];
  out.connection = 'close';
  const hasBody = !stream.endAfterHeaders;
  if (hasBody && out['content-length'] === undefined) out['transfer-encoding'] = 'chunked';

  let upstream: ClientRequest;
  try {
    upstream = request({ method, path, headers: out, createConnection: () => client, setHost: false });
  } catch {
    // Something nghttp2 let through that HTTP/1.1 cannot carry: refuse this stream, not the server.
    client.destroy();
    respondStatus(stream, 400);
    return;
  }
  upstream.on('response', (res: IncomingMessage) => relayResponse(stream, res));
  upstream.on('error', () => {
    if (!stream.headersSent) respondStatus(stream, 502);
    else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  });
  stream.on('close', () => {
    upstream.destroy();
    client.destroy();
  });
  if (hasBody) stream.pipe(upstream);
  else upstream.end();
}

function relayResponse(stream: ServerHttp2Stream, res: IncomingMessage): void {
  if (stream.destroyed) {
    res.destroy();
    return;
  }
  const headers: OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 };
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (NOT_IN_H2.has(name)) continue;
    const value = raw[i + 1]!;
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else headers[name] = Array.isArray(seen) ? [...seen, value] : [String(seen), value];
  }
  try {
    stream.respond(headers);
  } catch {
    // A header h2 cannot carry: the answer cannot be relayed faithfully.
    res.destroy();
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  res.pipe(stream);
  res.on('error', () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
}

function respondStatus(stream: ServerHttp2Stream, status: 400 | 502): void {
  if (stream.destroyed) return;
  const text = status === 400 ? 'bad request\n' : 'bad gateway\n';
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(text.length), 'cache-control': 'no-store' });
  stream.end(text);
}
