/**
 * The proxy's own short answers (404/502/503/504): neutral plain text that names no path, pid,
 * port or instance detail. Bodies are prebuilt once.
 * @module
 */
import type { ServerResponse } from 'node:http';

const TEXT: Readonly<Record<number, string>> = {
  400: 'bad request\n',
  404: 'not found\n',
  502: 'bad gateway\n',
  503: 'service unavailable\n',
  504: 'gateway timeout\n',
};

const BODIES = new Map<number, Buffer>(Object.entries(TEXT).map(([status, text]) => [Number(status), Buffer.from(text)]));

/** Writes a short error response, unless headers already went out (then the response is cut). */
export function sendProxyError(res: ServerResponse, status: 400 | 404 | 502 | 503 | 504): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = BODIES.get(status)!;
  res.writeHead(status, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), 'cache-control', 'no-store']);
  res.end(body);
}

/** The same answers for a raw socket (a refused WebSocket upgrade). */
export function proxyErrorHead(status: 400 | 404 | 502 | 503 | 504): string {
  const text = TEXT[status]!;
  const reason = text.trim().replace(/\b\w/g, (c) => c.toUpperCase());
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`;
}
