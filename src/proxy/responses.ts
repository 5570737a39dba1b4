/**
 * The proxy's own short answers (404/429/502/503/504): neutral plain text that names no path, pid,
 * port or instance detail. Bodies are prebuilt once.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { AUTO_SPAWN_RETRY_AFTER_S } from './auto-spawn-limit.js';

export type ProxyErrorStatus = 404 | 429 | 502 | 503 | 504;

const TEXT: Readonly<Record<number, string>> = {
  400: 'bad request\n',
  404: 'not found\n',
  429: 'too many requests\n',
  502: 'bad gateway\n',
  503: 'service unavailable\n',
  504: 'gateway timeout\n',
};

const BODIES = new Map<number, Buffer>(Object.entries(TEXT).map(([status, text]) => [Number(status), Buffer.from(text)]));

/** Writes a short error response, unless headers already went out (then the response is cut). */
export function sendProxyError(res: ServerResponse, status: 400 | ProxyErrorStatus): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = BODIES.get(status)!;
  const headers = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), 'cache-control', 'no-store'];
  if (status === 429) headers.push('retry-after', String(AUTO_SPAWN_RETRY_AFTER_S));
  res.writeHead(status, headers);
  res.end(body);
}

/** The same answers for a raw socket (a refused WebSocket upgrade). */
export function proxyErrorHead(status: 400 | ProxyErrorStatus): string {
  const text = TEXT[status]!;
  const reason = text.trim().replace(/\b\w/g, (c) => c.toUpperCase());
  const retry = status === 429 ? `retry-after: ${AUTO_SPAWN_RETRY_AFTER_S}\r\n` : '';
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${text.length}\r\n${retry}connection: close\r\n\r\n${text}`;
}
