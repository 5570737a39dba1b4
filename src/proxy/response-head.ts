/**
 * The strict parser of an instance's HTTP/1.x response head: status line, token header names,
 * values without control characters (HTAB allowed), no obs-fold, and one unambiguous framing.
 * Anything else is refused with a reason (→ 502 for that request and an event in the instance's
 * log), so no byte of an invalid head reaches a client. Pure; checked against Node's llhttp by
 * head-parsers.fuzz.test.ts.
 * @module
 */
import { isHopByHop, isRemovableByConnection, noConnectionTokens, readConnection } from './headers.js';
import type { ConnectionTokens } from './headers.js';

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

const SP = 32;
const HTAB = 9;
const DIGITS = /^[0-9]{1,15}$/;
/** status-line = HTTP-version SP 3DIGIT [SP reason-phrase]; the reason without control characters but HTAB. */
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
/** tchar of RFC 9110 §5.6.2: a header name is one token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A control character other than HTAB (CR and LF included: a line holds none). */
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Parses buf[start, end) where `end` is just past the blank line. Returns the head, or a short
 * reason why it is not valid HTTP/1.1 (for the instance's log). Works on the head as one latin1
 * string so that the checks run as native searches.
 */
export function parseResponseHead(buf: Buffer, start: number, end: number): ResponseHead | string {
  const text = buf.toString('latin1', start, end - 2);
  let lineEnd = text.indexOf('\r\n');
  const status = STATUS_LINE.exec(text.slice(0, lineEnd));
  if (status === null) return 'invalid status line';
  const code = Number(status[2]);
  if (code < 100 || code > 599) return 'invalid status code';

  const out: ResponseHead = { status: code, statusText: status[3] ?? '', headers: [], contentLength: -1, isChunked: false, isKeepAlive: status[1] === '1', upgrade: undefined };
  let connection: ConnectionTokens | null = null;
  let lengthCount = 0;
  let encodingCount = 0;
  for (let pos = lineEnd + 2; pos < text.length; pos = lineEnd + 2) {
    lineEnd = text.indexOf('\r\n', pos);
    const colon = text.indexOf(':', pos);
    // Also refuses obs-fold (a line starting with whitespace) and whitespace before the colon.
    if (colon < 0 || colon > lineEnd) return 'invalid header name';
    const name = text.slice(pos, colon);
    if (!TOKEN.test(name)) return 'invalid header name';
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    const value = text.slice(valueStart, valueEnd);
    if (CONTROL.test(value)) return 'invalid header value';
    // Framing values are taken only as plain tokens: parsers disagree on trailing whitespace.
    const hasTrailingOws = valueEnd < lineEnd;
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
      } else if (lower === 'connection') readConnection(value, (connection ??= noConnectionTokens()));
      else if (lower === 'upgrade') out.upgrade = value;
      continue;
    }
    out.headers.push(name, value);
  }
  if (lengthCount > 1) return 'more than one Content-Length';
  if (encodingCount > 1) return 'more than one Transfer-Encoding';
  if (lengthCount === 1 && encodingCount === 1) return 'both Content-Length and Transfer-Encoding';
  if (connection !== null) {
    const headers = out.headers;
    if (connection.listed !== null) {
      for (let k = headers.length - 2; k >= 0; k -= 2) {
        if (isRemovableByConnection(headers[k]!.toLowerCase(), connection.listed)) headers.splice(k, 2);
      }
    }
    if (connection.close) out.isKeepAlive = false;
    else if (connection.keepAlive) out.isKeepAlive = true;
  }
  // A body delimited only by the connection closing leaves nothing to reuse.
  if (!out.isChunked && out.contentLength < 0 && !hasNoBody(code)) out.isKeepAlive = false;
  return out;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** Statuses that never carry a body, whatever the headers say. */
export function hasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}
