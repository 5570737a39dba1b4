import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResponseHead } from './response-head.js';
import type { ResponseHead } from './response-head.js';

/** The head as an instance would send it: lines joined with CRLF, ended by the blank line. */
function parse(lines: string[]): ResponseHead | string {
  const buf = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return parseResponseHead(buf, 0, buf.length);
}

test('response heads give status, relayed headers and framing', () => {
  const cases: Array<[string[], { status: number; headers: string[]; contentLength: number; isChunked: boolean; isKeepAlive: boolean }]> = [
    [['HTTP/1.1 200 OK', 'Content-Length: 3', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'Keep-Alive: timeout=5'],
      { status: 200, headers: ['Content-Length', '3', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'], contentLength: 3, isChunked: false, isKeepAlive: true }],
    [['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Connection: close, X-Internal', 'X-Internal: 1', 'Content-Type: text/event-stream'],
      { status: 200, headers: ['Content-Type', 'text/event-stream'], contentLength: -1, isChunked: true, isKeepAlive: false }],
    [['HTTP/1.1 200 OK', 'Connection: Content-Length', 'Content-Length: 2'],
      { status: 200, headers: ['Content-Length', '2'], contentLength: 2, isChunked: false, isKeepAlive: true }],
    [['HTTP/1.0 200 OK', 'Content-Length: 2'],
      { status: 200, headers: ['Content-Length', '2'], contentLength: 2, isChunked: false, isKeepAlive: false }],
    [['HTTP/1.0 200 OK', 'Content-Length: 2', 'Connection: keep-alive'],
      { status: 200, headers: ['Content-Length', '2'], contentLength: 2, isChunked: false, isKeepAlive: true }],
    [['HTTP/1.1 200 OK', 'Connection: keep-alive', 'Connection: close', 'Content-Length: 0'],
      { status: 200, headers: ['Content-Length', '0'], contentLength: 0, isChunked: false, isKeepAlive: false }],
    [['HTTP/1.1 200 OK', 'Content-Type: text/plain'],
      { status: 200, headers: ['Content-Type', 'text/plain'], contentLength: -1, isChunked: false, isKeepAlive: false }],
    [['HTTP/1.1 204 No Content'], { status: 204, headers: [], contentLength: -1, isChunked: false, isKeepAlive: true }],
    [['HTTP/1.1 200', 'X-Tab: a\tb', 'X-Latin: caf\xe9'],
      { status: 200, headers: ['X-Tab', 'a\tb', 'X-Latin', 'caf\xe9'], contentLength: -1, isChunked: false, isKeepAlive: false }],
  ];
  for (const [lines, expected] of cases) {
    const parsed = parse(lines);
    assert.ok(typeof parsed === 'object', `${lines.join(' | ')}: ${String(parsed)}`);
    assert.deepEqual({ status: parsed.status, headers: parsed.headers, contentLength: parsed.contentLength, isChunked: parsed.isChunked, isKeepAlive: parsed.isKeepAlive }, expected, lines.join(' | '));
  }
  const notFound = parse(['HTTP/1.1 404 Not Found']);
  assert.ok(typeof notFound === 'object' && notFound.statusText === 'Not Found');
});

test('heads that are not valid HTTP/1.1 are refused with a reason: nothing of them can reach a client', () => {
  const bad: Array<[string[], string]> = [
    [['HTTP/2 200 OK'], 'invalid status line'],
    [['HTTP/1.1 20 OK'], 'invalid status line'],
    [['HTTP/1.1 abc OK'], 'invalid status line'],
    [['HTTP/1.1 099 Low'], 'invalid status code'],
    [['HTTP/1.1 600 High'], 'invalid status code'],
    [['HTTP/1.1 200 O\x01K'], 'invalid status line'],
    [['garbage'], 'invalid status line'],
    [['HTTP/1.1 200 OK', 'Content-Length: 3', 'Content-Length: 3'], 'more than one Content-Length'],
    [['HTTP/1.1 200 OK', 'Content-Length: -1'], 'invalid Content-Length'],
    [['HTTP/1.1 200 OK', 'Content-Length: 1, 1'], 'invalid Content-Length'],
    [['HTTP/1.1 200 OK', 'Content-Length: 3', 'Transfer-Encoding: chunked'], 'both Content-Length and Transfer-Encoding'],
    [['HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, chunked'], 'unsupported Transfer-Encoding'],
    [['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], 'more than one Transfer-Encoding'],
    [['HTTP/1.1 200 OK', 'X-A: 1', ' folded'], 'invalid header name'],
    [['HTTP/1.1 200 OK', 'X Y: 1'], 'invalid header name'],
    [['HTTP/1.1 200 OK', 'Bad Header : 1'], 'invalid header name'],
    [['HTTP/1.1 200 OK', 'X-A\nSet-Cookie: pwn=1'], 'invalid header name'],
    [['HTTP/1.1 200 OK', 'no colon'], 'invalid header name'],
    [['HTTP/1.1 200 OK', 'X-A: a\x00b'], 'invalid header value'],
    [['HTTP/1.1 200 OK', 'X-A: a\x1bb'], 'invalid header value'],
    [['HTTP/1.1 200 OK', 'X-A: a\x7fb'], 'invalid header value'],
    [['HTTP/1.1 200 OK', 'X-A: a\rb'], 'invalid header value'],
    [['HTTP/1.1 200 OK', 'X-A: a\nSet-Cookie: pwn=1'], 'invalid header value'],
  ];
  for (const [lines, reason] of bad) assert.equal(parse(lines), reason, JSON.stringify(lines));
});
