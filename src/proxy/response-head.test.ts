import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResponseHead } from './response-head.js';

function head(lines: string[]): string {
  return lines.join('\r\n');
}

test('response heads give status, relayed headers and framing', () => {
  const cases: Array<[string, { status: number; headers: string[]; contentLength: number; isChunked: boolean; isKeepAlive: boolean }]> = [
    [head(['HTTP/1.1 200 OK', 'Content-Length: 3', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'Keep-Alive: timeout=5']),
      { status: 200, headers: ['Content-Length', '3', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'], contentLength: 3, isChunked: false, isKeepAlive: true }],
    [head(['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Connection: close, X-Internal', 'X-Internal: 1', 'Content-Type: text/event-stream']),
      { status: 200, headers: ['Content-Type', 'text/event-stream'], contentLength: -1, isChunked: true, isKeepAlive: false }],
    [head(['HTTP/1.1 200 OK', 'Content-Length: 10', 'Transfer-Encoding: chunked']),
      { status: 200, headers: [], contentLength: -1, isChunked: true, isKeepAlive: true }],
    [head(['HTTP/1.0 200 OK', 'Content-Length: 2']),
      { status: 200, headers: ['Content-Length', '2'], contentLength: 2, isChunked: false, isKeepAlive: false }],
    [head(['HTTP/1.0 200 OK', 'Content-Length: 2', 'Connection: keep-alive']),
      { status: 200, headers: ['Content-Length', '2'], contentLength: 2, isChunked: false, isKeepAlive: true }],
    [head(['HTTP/1.1 200 OK', 'Content-Type: text/plain']),
      { status: 200, headers: ['Content-Type', 'text/plain'], contentLength: -1, isChunked: false, isKeepAlive: false }],
    [head(['HTTP/1.1 204 No Content']), { status: 204, headers: [], contentLength: -1, isChunked: false, isKeepAlive: true }],
  ];
  for (const [text, expected] of cases) {
    const parsed = parseResponseHead(text);
    assert.ok(parsed !== null, text);
    assert.deepEqual({ status: parsed.status, headers: parsed.headers, contentLength: parsed.contentLength, isChunked: parsed.isChunked, isKeepAlive: parsed.isKeepAlive }, expected, text);
  }
  assert.equal(parseResponseHead('HTTP/1.1 404 Not Found')?.statusText, 'Not Found');
});

test('ambiguous or malformed heads are refused', () => {
  const bad = [
    'HTTP/2 200 OK', 'HTTP/1.1 20 OK', 'HTTP/1.1 abc OK', 'garbage',
    head(['HTTP/1.1 200 OK', 'Content-Length: 3', 'Content-Length: 4']),
    head(['HTTP/1.1 200 OK', 'Content-Length: -1']),
    head(['HTTP/1.1 200 OK', 'X-A: 1', ' folded']),
    head(['HTTP/1.1 200 OK', 'Bad Header : 1']),
    head(['HTTP/1.1 200 OK', 'no colon']),
  ];
  for (const text of bad) assert.equal(parseResponseHead(text), null, text);
});
