/**
 * The proxy's own answers, in one table: refusals of malformed requests (400, 408, 417, 431),
 * routing and instance failures (404, 502, 503, 504), the auto_spawn budget (429) and the
 * overload answer (503). Neutral plain text naming no path, pid, port or instance detail.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import { AUTO_SPAWN_RETRY_AFTER_S } from './auto-spawn-limit.js';

export type ProxyStatus = 400 | 404 | 408 | 417 | 429 | 431 | 502 | 503 | 504;

const TEXT: Readonly<Record<ProxyStatus, string>> = {
  400: 'bad request\n',
  404: 'not found\n',
  408: 'request timeout\n',
  417: 'expectation failed\n',
  429: 'too many requests\n',
  431: 'request header fields too large\n',
  502: 'bad gateway\n',
  503: 'service unavailable\n',
  504: 'gateway timeout\n',
};

/**
 * A complete response: status line, headers (with `date`, `extraHead` lines such as HSTS on an
 * encrypted connection, and `Connection: close` when the connection ends after it) and body, as
 * one latin1 string for one socket write.
 */
export function proxyAnswer(status: ProxyStatus, date: string, close: boolean, extraHead = ''): string {
  const text = TEXT[status];
  const retry = status === 429 ? `retry-after: ${AUTO_SPAWN_RETRY_AFTER_S}\r\n` : '';
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${text.length}\r\ncache-control: no-store\r\n${retry}date: ${date}\r\n${extraHead}${close ? 'connection: close\r\n' : ''}\r\n${text}`;
}

/** Written to a connection over `max_connections` before it is closed unread. */
export function overloadAnswer(date: string): string {
  const text = 'server busy, retry shortly\n';
  return `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${text.length}\r\nretry-after: 1\r\ndate: ${date}\r\nconnection: close\r\n\r\n${text}`;
}
