/**
 * The one HTTP/1.x request-head parser of the front server (tenant and management traffic alike):
 * request line, header fields and the body framing of RFC 9112 §6, with every ambiguity a
 * smuggler could use refused (→ 400). Pure; works on the bytes as received, so what it accepts is
 * exactly what is forwarded. Checked against Node's llhttp by head-parsers.fuzz.test.ts.
 * @module
 */
import { METHODS } from 'node:http';
import { TCHAR } from './chunked.js';
import { noConnectionTokens, readConnection } from './headers.js';
import type { ConnectionTokens } from './headers.js';

export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

/** The methods llhttp knows, less the two that are not origin-form requests (PRI, CONNECT). */
const KNOWN_METHODS = new Set(METHODS.filter((m) => m !== 'PRI' && m !== 'CONNECT'));

export interface RequestHead {
  method: string;
  target: string;
  /** HTTP/1.1 (true) or HTTP/1.0 (false). */
  isHttp11: boolean;
  /** Flat [name, value, ...] as sent (values without surrounding whitespace). */
  rawHeaders: string[];
  host: string | undefined;
  /** Content-Length, or -1 when absent. */
  contentLength: number;
  isChunked: boolean;
  /** The client asked to close after this exchange (`close` wins over `keep-alive`). */
  wantsClose: boolean;
  /** Names the Connection header listed (lower-case), or null. */
  connectionListed: Set<string> | null;
  /** The protocol asked for by `Upgrade` with `Connection: upgrade` on a body-less request. */
  upgrade: string | undefined;
  /** `Expect: 100-continue`. */
  expectsContinue: boolean;
  /** An Expect header other than 100-continue (→ 417). */
  hasUnknownExpectation: boolean;
}

/** Why a head was refused: 400 (malformed or ambiguous) or 431 (too large). */
export type HeadError = 400 | 431;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const DIGITS = /^[0-9]{1,15}$/;

/** findHeadEnd: more bytes are needed. */
export const HEAD_INCOMPLETE = -1;
/** findHeadEnd: the head is over MAX_REQUEST_HEAD_BYTES (→ 431). */
export const HEAD_TOO_LARGE = -2;
/** findHeadEnd: the head uses bare LF line ends (→ 400). */
export const HEAD_MALFORMED = -3;

/**
 * Where the head starting at `start` ends (the index just past its blank line), or one of the
 * negative HEAD_* outcomes. Bytes before `scanned` were searched already (a head arriving in
 * pieces is scanned once, not once per piece). Leading empty lines (RFC 9112 §2.2) are skipped
 * by the caller first.
 */
export function findHeadEnd(buf: Buffer, start: number, scanned = 0): number {
  const from = Math.max(start, scanned - 3);
  const end = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (end >= 0) return end - start + 4 > MAX_REQUEST_HEAD_BYTES ? HEAD_TOO_LARGE : end + 4;
  // A head using bare LF line ends would never show a CRLF blank line: refuse it now.
  if (buf.indexOf('\n\n', from, 'latin1') >= 0 || buf.indexOf('\n\r\n', from, 'latin1') >= 0) return HEAD_MALFORMED;
  return buf.length - start > MAX_REQUEST_HEAD_BYTES ? HEAD_TOO_LARGE : HEAD_INCOMPLETE;
}

/** Index past any CRLF pairs at `start` (empty lines before a request line). */
export function skipEmptyLines(buf: Buffer, start: number): number {
  let i = start;
  while (i + 1 < buf.length && buf[i] === CR && buf[i + 1] === LF) i += 2;
  return i;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** Parses buf[start, end) where `end` is just past the blank line. */
export function parseRequestHead(buf: Buffer, start: number, end: number): RequestHead | HeadError {
  // Request line: method SP request-target SP HTTP-version CRLF, single spaces only.
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start || buf[i] !== SP) return 400;
  const method = buf.toString('latin1', start, i);
  if (!KNOWN_METHODS.has(method)) return 400;
  const targetStart = ++i;
  // Origin-form only (RFC 9112 §3.2.1): tenement serves no absolute-form, authority-form or `*`.
  if (buf[i] !== 47 /* / */) return 400;
  while (i < end && buf[i]! > SP && buf[i]! < 127) i++;
  if (buf[i] !== SP) return 400;
  const target = buf.toString('latin1', targetStart, i);
  i++;
  if (i + 10 > end || buf.toString('latin1', i, i + 7) !== 'HTTP/1.' || buf[i + 8] !== CR || buf[i + 9] !== LF) return 400;
  const minor = buf[i + 7];
  if (minor !== 48 && minor !== 49) return 400;
  const isHttp11 = minor === 49;
  i += 10;

  const head: RequestHead = {
    method, target, isHttp11, rawHeaders: [], host: undefined, contentLength: -1, isChunked: false,
    wantsClose: !isHttp11, connectionListed: null, upgrade: undefined, expectsContinue: false, hasUnknownExpectation: false,
  };
  let connection: ConnectionTokens | null = null;
  let hostCount = 0;
  let lengthCount = 0;
  let encodingCount = 0;
  const fieldsEnd = end - 2;
  while (i < fieldsEnd) {
    // field-name: a token right up to the colon (no whitespace before it, no obs-fold line).
    const nameStart = i;
    while (TCHAR[buf[i]!] === 1) i++;
    if (i === nameStart || buf[i] !== 58 /* : */) return 400;
    const nameEnd = i++;
    while (isOws(buf[i]!)) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      const c = buf[i]!;
      if (c === CR) {
        if (buf[i + 1] !== LF) return 400;
        break;
      }
      // No NUL, bare LF or other control characters in a value; HTAB and obs-text are allowed.
      if ((c < SP && c !== HTAB) || c === 127) return 400;
      i++;
      if (!isOws(c)) valueEnd = i;
    }
    // Framing values are taken only as plain tokens: parsers disagree on trailing whitespace.
    const hasTrailingOws = valueEnd < i;
    i += 2;
    const name = buf.toString('latin1', nameStart, nameEnd);
    const value = buf.toString('latin1', valueStart, valueEnd);
    head.rawHeaders.push(name, value);
    switch (nameEnd - nameStart) {
      case 4:
        if (name.toLowerCase() === 'host') {
          hostCount++;
          head.host = value;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') {
          if (value.toLowerCase() === '100-continue') head.expectsContinue = true;
          else head.hasUnknownExpectation = true;
        }
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') head.upgrade = value;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') readConnection(value, (connection ??= noConnectionTokens()));
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          lengthCount++;
          if (hasTrailingOws || !DIGITS.test(value)) return 400;
          head.contentLength = Number(value);
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          encodingCount++;
          if (hasTrailingOws || value.toLowerCase() !== 'chunked') return 400;
          head.isChunked = true;
        }
        break;
    }
  }
  if (i !== fieldsEnd) return 400;
  // Framing (RFC 9112 §6.1-6.3): exactly one way to find the body's end, or none.
  if (lengthCount > 1 || encodingCount > 1 || (lengthCount === 1 && encodingCount === 1)) return 400;
  if (head.isChunked && !isHttp11) return 400;
  // Host (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in HTTP/1.0.
  if (hostCount > 1 || (isHttp11 && hostCount === 0)) return 400;
  if (connection !== null) {
    head.wantsClose = connection.close || (!isHttp11 && !connection.keepAlive);
    head.connectionListed = connection.listed;
  }
  // An upgrade needs both headers (RFC 9110 §7.8); one with a body is served as a plain request.
  if (connection === null || !connection.upgrade || head.isChunked || head.contentLength > 0) head.upgrade = undefined;
  return head;
}
