import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkedDecoder } from './chunked.js';
import { findHeadEnd, HEAD_INCOMPLETE, HEAD_TOO_LARGE, parseRequestHead, skipEmptyLines } from './request-head.js';
import type { HeadError, RequestHead } from './request-head.js';

function parse(text: string): RequestHead | HeadError {
  const buf = Buffer.from(text, 'latin1');
  const start = skipEmptyLines(buf, 0);
  const end = findHeadEnd(buf, start);
  if (end === HEAD_INCOMPLETE) throw new Error(`incomplete head: ${JSON.stringify(text)}`);
  if (end < 0) return end === HEAD_TOO_LARGE ? 431 : 400;
  return parseRequestHead(buf, start, end);
}

test('well-formed heads give method, target, headers as sent and the body framing', () => {
  const h = parse('\r\nPOST /up?x=1 HTTP/1.1\r\nHost: a.api.localhost\r\nX-Trim:  spaced \t\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbody');
  assert.ok(typeof h === 'object');
  assert.equal(h.method, 'POST');
  assert.equal(h.target, '/up?x=1');
  assert.equal(h.isHttp11, true);
  assert.deepEqual(h.rawHeaders, ['Host', 'a.api.localhost', 'X-Trim', 'spaced', 'Content-Length', '12', 'Connection', 'close']);
  assert.equal(h.host, 'a.api.localhost');
  assert.equal(h.contentLength, 12);
  assert.equal(h.isChunked, false);
  assert.equal(h.wantsClose, true);

  const c = parse('PUT / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: Chunked\r\n\r\n');
  assert.ok(typeof c === 'object' && c.isChunked && c.contentLength === -1 && !c.wantsClose);
  const old = parse('GET / HTTP/1.0\r\n\r\n');
  assert.ok(typeof old === 'object' && !old.isHttp11 && old.wantsClose && old.host === undefined);
  const upgrade = parse('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n');
  assert.ok(typeof upgrade === 'object' && upgrade.upgrade === 'websocket');
  const notUpgrade = parse('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n');
  assert.ok(typeof notUpgrade === 'object' && notUpgrade.upgrade === undefined, 'Upgrade without Connection: upgrade');
  const withBody = parse('POST / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: upgrade\r\nContent-Length: 3\r\n\r\n');
  assert.ok(typeof withBody === 'object' && withBody.upgrade === undefined, 'an upgrade with a body is a plain request');
  const expect = parse('PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n');
  assert.ok(typeof expect === 'object' && expect.expectsContinue && !expect.hasUnknownExpectation);
  const odd = parse('PUT / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n');
  assert.ok(typeof odd === 'object' && odd.hasUnknownExpectation);
  const keep10 = parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.ok(typeof keep10 === 'object' && !keep10.wantsClose, 'HTTP/1.0 keep-alive');
  for (const order of ['Connection: close\r\nConnection: keep-alive', 'Connection: keep-alive\r\nConnection: close', 'Connection: keep-alive, close']) {
    const h = parse(`GET / HTTP/1.1\r\nHost: x\r\n${order}\r\n\r\n`);
    assert.ok(typeof h === 'object' && h.wantsClose, `close wins: ${order}`);
  }
});

test('request-smuggling and malformed heads are refused with 400', () => {
  const refused: Array<[string, string]> = [
    ['CL and TE together', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['TE and CL together', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n'],
    ['two Content-Length, different', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n'],
    ['two Content-Length, same', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n'],
    ['Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\n'],
    ['signed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\n'],
    ['negative Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
    ['hex Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n'],
    ['empty Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n'],
    ['huge Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n'],
    ['TE gzip, chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['TE chunked, chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n'],
    ['TE identity', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n'],
    ['TE xchunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n'],
    ['TE twice', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['TE with vertical tab', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0bchunked\r\n\r\n'],
    ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['space before colon', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n'],
    ['tab before colon', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length\t: 4\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'],
    ['obs-fold hiding TE', 'POST / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tTransfer-Encoding: chunked\r\n\r\n'],
    ['bare LF between fields', 'GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n'],
    ['bare LF after request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n'],
    ['bare LF head end', 'GET / HTTP/1.1\r\nHost: x\n\n'],
    ['bare CR in value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
    ['NUL in value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
    ['control char in name', 'GET / HTTP/1.1\r\nHost: x\r\nX\x01A: b\r\n\r\n'],
    ['empty name', 'GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n'],
    ['no colon', 'GET / HTTP/1.1\r\nHost: x\r\nX-A b\r\n\r\n'],
    ['missing Host in HTTP/1.1', 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n'],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a.api.localhost\r\nHost: b.api.localhost\r\n\r\n'],
    ['double space in request line', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['space in target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['unknown version', 'GET / HTTP/1.2\r\nHost: x\r\n\r\n'],
    ['HTTP/2 over text', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'],
    ['lower-case version', 'GET / http/1.1\r\nHost: x\r\n\r\n'],
    ['no version', 'GET /\r\nHost: x\r\n\r\n'],
    ['method with slash', 'G/T / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['unknown method', 'FETCH / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['CONNECT', 'CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['absolute-form target', 'GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['target not starting with /', 'GET ;/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['Content-Length with trailing space', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4 \r\n\r\n'],
    ['TE with trailing tab', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n'],
  ];
  for (const [name, text] of refused) assert.equal(parse(text), 400, name);
});

test('heads over 16 KiB are refused with 431, even before they end; any head size below is fine', () => {
  // Heads whose end falls on byte 400 or 431 are ordinary heads.
  for (const size of [400, 431]) {
    const prefix = 'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ';
    const text = `${prefix}${'p'.repeat(size - prefix.length - 4)}\r\n\r\n`;
    assert.equal(findHeadEnd(Buffer.from(text), 0), size);
    assert.equal(typeof parse(text), 'object');
  }
  assert.equal(parse(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`), 431);
  const partial = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}`);
  assert.equal(findHeadEnd(partial, 0), HEAD_TOO_LARGE);
  assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'), 0), HEAD_INCOMPLETE);
});

function decodeChunked(text: string): string | null {
  let out = '';
  const decoder = new ChunkedDecoder({ onChunkData: (c) => { out += c.toString('latin1'); } });
  const buf = Buffer.from(text, 'latin1');
  // Fed one byte at a time: framing split anywhere must decode the same.
  for (let i = 0; i < buf.length && !decoder.isDone; i++) {
    if (decoder.feed(buf, i, i + 1) < 0) return null;
  }
  return decoder.isDone ? out : null;
}

test('chunked request bodies decode strictly: extensions and trailers skipped, bad framing refused', () => {
  assert.equal(decodeChunked('5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n'), 'hello, world');
  assert.equal(decodeChunked('A\r\n0123456789\r\n0\r\n\r\n'), '0123456789');
  const whole = new ChunkedDecoder({ onChunkData: () => undefined });
  const buf = Buffer.from('3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n');
  assert.equal(whole.feed(buf, 0, buf.length), 13, 'stops at the end of the body');
  for (const bad of ['5\nhello\r\n0\r\n\r\n', '5\r\nhello\n0\r\n\r\n', '5\r\nhelloX\r\n0\r\n\r\n', '-5\r\nhello\r\n0\r\n\r\n',
    ' 5\r\nhello\r\n0\r\n\r\n', '5 \r\nhello\r\n0\r\n\r\n', '\r\nhello\r\n0\r\n\r\n', '0x5\r\nhello\r\n0\r\n\r\n',
    'fffffffffffffff\r\n', '0\r\nX: a\nb\r\n\r\n', '5;a b\r\nhello\r\n0\r\n\r\n', '5;\r\nhello\r\n0\r\n\r\n',
    '5;a=\r\nhello\r\n0\r\n\r\n', '0\r\nno-colon\r\n\r\n', '0\r\nX : a\r\n\r\n']) {
    assert.equal(decodeChunked(bad), null, JSON.stringify(bad));
  }
});
