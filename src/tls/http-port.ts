/**
 * The plain-HTTP listener when TLS is on (README: Production): answers ACME HTTP-01 challenges,
 * lets the local CLI reach the API (a loopback client addressing the server by IP or localhost),
 * and redirects everything else to HTTPS with 308, which keeps the method and body.
 * @module
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { normalizeHost } from '../proxy/host.js';

export interface HttpPortOptions {
  readonly httpsPort: number;
  /** The key authorization for an HTTP-01 token, if an order is waiting for it. */
  readonly challengeAnswer: (token: string) => string | undefined;
  /** tenement's own handler (API, /health, /metrics) for local clients. */
  readonly management: (req: IncomingMessage, res: ServerResponse) => void;
}

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** What may appear in a redirect's host: a DNS name or an IP literal, nothing to inject. */
const SAFE_HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/;
const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/;

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export function createHttpPortServer(options: HttpPortOptions): Server {
  const portSuffix = options.httpsPort === 443 ? '' : `:${options.httpsPort}`;

  function redirectTarget(req: IncomingMessage): string | undefined {
    const raw = req.headers.host;
    if (raw === undefined) return undefined;
    const host = normalizeHost(raw);
    if (!SAFE_HOST.test(host)) return undefined;
    return `https://${host}${portSuffix}${req.url ?? '/'}`;
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url.startsWith(CHALLENGE_PREFIX)) {
      const answer = options.challengeAnswer(url.slice(CHALLENGE_PREFIX.length));
      if (answer === undefined) return void plain(res, 404, 'not found\n');
      return void plain(res, 200, answer);
    }
    const host = req.headers.host === undefined ? '' : normalizeHost(req.headers.host);
    if (isLoopback(req.socket.remoteAddress) && (host === 'localhost' || IP_LITERAL.test(host))) {
      options.management(req, res);
      return;
    }
    const location = redirectTarget(req);
    if (location === undefined) return void plain(res, 400, 'bad request\n');
    res.writeHead(308, { location, 'content-length': '0', 'cache-control': 'no-store' });
    res.end();
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex): void {
    socket.on('error', () => socket.destroy());
    const location = redirectTarget(req);
    socket.end(location === undefined
      ? 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'
      : `HTTP/1.1 308 Permanent Redirect\r\nlocation: ${location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  }

  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 }, onRequest);
  server.on('upgrade', onUpgrade);
  return server;
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' });
  res.end(text);
}
