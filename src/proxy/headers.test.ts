import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noConnectionTokens, readConnection, upstreamRequestHeaders } from './headers.js';
import type { ForwardedFor } from './headers.js';

const FWD: ForwardedFor = { clientAddress: '10.0.0.9', host: 'A.api.localhost:8080', proto: 'http', isTrustedProxy: false, upgrade: undefined };

function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function listed(...values: string[]): Set<string> | null {
  const tokens = noConnectionTokens();
  for (const v of values) readConnection(v, tokens);
  return tokens.listed;
}

test('request headers pass through; hop-by-hop and Connection-listed ones are dropped; X-Forwarded-* start fresh from an untrusted peer', () => {
  const raw = ['Host', 'A.api.localhost:8080', 'Authorization', 'Bearer t', 'Cookie', 'a=1', 'Cookie', 'b=2',
    'Connection', 'keep-alive, X-Secret', 'X-Secret', 'drop me', 'Keep-Alive', 'timeout=5', 'TE', 'trailers',
    'Proxy-Authorization', 'Basic x', 'Upgrade', 'h2c', 'Trailer', 'X', 'X-Forwarded-For', '1.2.3.4',
    'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil.example', 'Expect', '100-continue'];
  const out = pairs(upstreamRequestHeaders(raw, listed('keep-alive, X-Secret'), FWD));
  assert.deepEqual(out, [
    ['Host', 'A.api.localhost:8080'], ['Authorization', 'Bearer t'], ['Cookie', 'a=1'], ['Cookie', 'b=2'],
    ['x-forwarded-for', '10.0.0.9'], ['x-forwarded-host', 'A.api.localhost:8080'], ['x-forwarded-proto', 'http'],
  ]);
});

test('Connection never removes the framing or Host: Content-Length listed in Connection still reaches the instance', () => {
  const raw = ['Host', 'a.api.localhost', 'Content-Length', '5', 'Connection', 'content-length, host, transfer-encoding, x-a', 'X-A', '1'];
  const out = pairs(upstreamRequestHeaders(raw, listed('content-length, host, transfer-encoding, x-a'), FWD));
  assert.deepEqual(out.slice(0, 2), [['Host', 'a.api.localhost'], ['Content-Length', '5']]);
  assert.equal(out.find(([n]) => n === 'X-A'), undefined);
});

test('close wins over keep-alive in any order and across several Connection headers', () => {
  for (const values of [['close', 'keep-alive'], ['keep-alive', 'close'], ['keep-alive, close'], ['Close,Keep-Alive']]) {
    const tokens = noConnectionTokens();
    for (const v of values) readConnection(v, tokens);
    assert.ok(tokens.close && tokens.keepAlive, values.join(' | '));
  }
});

test('a trusted proxy keeps its X-Forwarded-For (appended) and -Proto; an upgrade keeps Connection and Upgrade', () => {
  const out = pairs(upstreamRequestHeaders(['X-Forwarded-Proto', 'https', 'X-Forwarded-For', '203.0.113.7', 'Connection', 'Upgrade', 'Upgrade', 'websocket'], null,
    { ...FWD, isTrustedProxy: true, upgrade: 'websocket' }));
  assert.deepEqual(out.filter(([n]) => n !== 'x-forwarded-host'), [
    ['connection', 'upgrade'], ['upgrade', 'websocket'], ['x-forwarded-for', '203.0.113.7, 10.0.0.9'], ['x-forwarded-proto', 'https'],
  ]);
});
