/**
 * Parses an instance's HTTP/1.x response head (status line + headers) into what the proxy needs:
 * status, the headers to relay (hop-by-hop dropped) and the body framing. Pure. Only instances'
 * own answers pass through here, on that instance's own upstream connections, so a malformed
 * head can only break that instance's responses; anything ambiguous is refused (→ 502).
 * @module
 */
import { isHopByHop } from './headers.js';

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Flat [name, value, ...] to relay, hop-by-hop headers dropped. */
  headers: string[];
  /** Declared Content-Length, or -1. */
  contentLength: number;
  isChunked: boolean;
  /** The connection may carry another request after this response. */
  isKeepAlive: boolean;
}

const DIGITS = /^\d+$/;

/** `head` is the latin1 text up to (not including) the blank line. Returns null if malformed. */
export function parseResponseHead(head: string): ResponseHead | null {
  const lineEnd = head.indexOf('\r\n');
  const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  // "HTTP/1.1 200 OK"
  if (statusLine.length < 12 || !statusLine.startsWith('HTTP/1.') || statusLine[8] !== ' ') return null;
  const status = Number(statusLine.slice(9, 12));
  if (!Number.isInteger(status) || status < 100 || status > 999 || (statusLine.length > 12 && statusLine[12] !== ' ')) return null;
  const isHttp10 = statusLine[7] === '0';
  const out: ResponseHead = { status, statusText: statusLine.slice(13), headers: [], contentLength: -1, isChunked: false, isKeepAlive: !isHttp10 };
  let connection: string | undefined;
  let hasTransferEncoding = false;
  let pos = lineEnd < 0 ? head.length : lineEnd + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    const colon = head.indexOf(':', pos);
    if (colon <= pos || colon > end) return null;
    const name = head.slice(pos, colon);
    // Obsolete line folding or whitespace before the colon: refuse rather than guess.
    if (name.charCodeAt(0) === 32 || name.charCodeAt(0) === 9 || name.charCodeAt(name.length - 1) === 32) return null;
    const value = head.slice(colon + 1, end).trim();
    pos = end + 2;
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      if (!DIGITS.test(value)) return null;
      const n = Number(value);
      if (out.contentLength >= 0 && out.contentLength !== n) return null;
      out.contentLength = n;
    } else if (isHopByHop(lower)) {
      if (lower === 'transfer-encoding') {
        // Only "chunked" last is framed by chunks; anything else means "until close".
        hasTransferEncoding = true;
        out.isChunked = /(^|,)\s*chunked\s*$/i.test(value);
      } else if (lower === 'connection') {
        connection = connection === undefined ? value : `${connection}, ${value}`;
      }
      continue;
    }
    out.headers.push(name, value);
  }
  if (connection !== undefined) applyConnection(out, connection);
  if (hasTransferEncoding && out.contentLength >= 0) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3), which is then not relayed.
    out.contentLength = -1;
    removeHeader(out.headers, 'content-length');
  }
  // A body delimited only by the connection closing leaves nothing to reuse.
  if (!out.isChunked && out.contentLength < 0 && !hasNoBody(status)) out.isKeepAlive = false;
  return out;
}

/** Statuses that never carry a body, whatever the headers say. */
export function hasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

function applyConnection(out: ResponseHead, connection: string): void {
  // The usual single value: no split.
  const lower = connection.length <= 10 ? connection.toLowerCase() : '';
  if (lower === 'keep-alive' || lower === 'close') {
    out.isKeepAlive = lower === 'keep-alive';
    return;
  }
  let sawClose = false;
  let sawKeepAlive = false;
  for (const token of connection.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === 'close') sawClose = true;
    else if (t === 'keep-alive') sawKeepAlive = true;
    else if (t !== '') removeHeader(out.headers, t);
  }
  if (sawClose) out.isKeepAlive = false;
  else if (sawKeepAlive) out.isKeepAlive = true;
}

function removeHeader(headers: string[], lower: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.toLowerCase() === lower) headers.splice(i, 2);
}
