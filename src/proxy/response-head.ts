/**
 * The strict parser of an instance's HTTP/1.x response head: status line, token header names,
 * values without control characters (HTAB allowed), no obs-fold, and one unambiguous framing.
 * Anything else is refused with a reason (→ 502 for that request and an event in the instance's
 * log), so no byte of an invalid head reaches a client. Pure; checked against Node's llhttp by
 * head-parsers.fuzz.test.ts.
 * @module
 */
import { TCHAR } from './chunked.js';
import { isHopByHop, isRemovableByConnection, noConnectionTokens, readConnection } from './headers.js';

export interface ResponseHead {
  status: number;
  /** The reason phrase as sent (validated). */
  statusText: string;
  /** Flat [name, value, ...] to relay: hop-by-hop and Connection-listed headers dropped. */
  headers: string[];
  /** Declared Content-Length, or -1. */
  contentLength: number;
  isChunked: boolean;
  /** The connection may carry another request after this response. */
  isKeepAlive: boolean;
  /** A 101's Upgrade header (relayed with the switch). */
  upgrade: string | undefined;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const DIGITS = /^[0-9]{1,15}$/;

/** A byte allowed in a field value or reason phrase: VCHAR, obs-text, SP, HTAB. */
function isValueByte(c: number): boolean {
  return c >= SP ? c !== 127 : c === HTAB;
}

/**
 * Parses buf[start, end) where `end` is just past the blank line. Returns the head, or a short
 * reason why it is not valid HTTP/1.1 (for the instance's log).
 */
export function parseResponseHead(buf: Buffer, start: number, end: number): ResponseHead | string {
  // status-line = HTTP-version SP 3DIGIT [SP reason-phrase] CRLF
  let i = start;
  if (end - start < 14 || buf.toString('latin1', i, i + 7) !== 'HTTP/1.' || (buf[i + 7] !== 48 && buf[i + 7] !== 49) || buf[i + 8] !== SP) return 'invalid status line';
  const isHttp10 = buf[i + 7] === 48;
  let status = 0;
  for (let k = i + 9; k < i + 12; k++) {
    const d = buf[k]! - 48;
    if (d < 0 || d > 9) return 'invalid status line';
    status = status * 10 + d;
  }
  if (status < 100 || status > 599) return 'invalid status code';
  i += 12;
  let statusText = '';
  if (buf[i] === SP) {
    const reasonStart = ++i;
    while (buf[i] !== CR && i < end && isValueByte(buf[i]!)) i++;
    statusText = buf.toString('latin1', reasonStart, i);
  }
  if (buf[i] !== CR || buf[i + 1] !== LF) return 'invalid status line';
  i += 2;

  const out: ResponseHead = { status, statusText, headers: [], contentLength: -1, isChunked: false, isKeepAlive: !isHttp10, upgrade: undefined };
  const connection = noConnectionTokens();
  let lengthCount = 0;
  let encodingCount = 0;
  const fieldsEnd = end - 2;
  while (i < fieldsEnd) {
    const nameStart = i;
    while (TCHAR[buf[i]!] === 1) i++;
    // Also refuses obs-fold (a line starting with whitespace) and whitespace before the colon.
    if (i === nameStart || buf[i] !== 58 /* : */) return 'invalid header name';
    const nameEnd = i++;
    while (buf[i] === SP || buf[i] === HTAB) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      const c = buf[i]!;
      if (c === CR) {
        if (buf[i + 1] !== LF) return 'invalid header value';
        break;
      }
      if (!isValueByte(c)) return 'invalid header value';
      i++;
      if (c !== SP && c !== HTAB) valueEnd = i;
    }
    // Framing values are taken only as plain tokens: parsers disagree on trailing whitespace.
    const hasTrailingOws = valueEnd < i;
    i += 2;
    const name = buf.toString('latin1', nameStart, nameEnd);
    const value = buf.toString('latin1', valueStart, valueEnd);
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      lengthCount++;
      if (hasTrailingOws || !DIGITS.test(value)) return 'invalid Content-Length';
      out.contentLength = Number(value);
    } else if (isHopByHop(lower)) {
      if (lower === 'transfer-encoding') {
        encodingCount++;
        if (hasTrailingOws || value.toLowerCase() !== 'chunked') return 'unsupported Transfer-Encoding';
        out.isChunked = true;
      } else if (lower === 'connection') readConnection(value, connection);
      else if (lower === 'upgrade') out.upgrade = value;
      continue;
    }
    out.headers.push(name, value);
  }
  if (i !== fieldsEnd) return 'invalid header line';
  if (lengthCount > 1) return 'more than one Content-Length';
  if (encodingCount > 1) return 'more than one Transfer-Encoding';
  if (lengthCount === 1 && encodingCount === 1) return 'both Content-Length and Transfer-Encoding';
  if (connection.listed !== null) {
    const headers = out.headers;
    for (let k = headers.length - 2; k >= 0; k -= 2) {
      if (isRemovableByConnection(headers[k]!.toLowerCase(), connection.listed)) headers.splice(k, 2);
    }
  }
  if (connection.close) out.isKeepAlive = false;
  else if (connection.keepAlive) out.isKeepAlive = true;
  // A body delimited only by the connection closing leaves nothing to reuse.
  if (!out.isChunked && out.contentLength < 0 && !hasNoBody(status)) out.isKeepAlive = false;
  return out;
}

/** Statuses that never carry a body, whatever the headers say. */
export function hasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}
