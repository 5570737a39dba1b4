import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upstreamRequestHeaders } from './headers.js';
import type { ForwardedFor } from './headers.js';

const FWD: ForwardedFor = { clientAddress: '10.0.0.9', host: 'A.api.localhost:8080', proto: 'http', trustForwardedProto: false, isUpgrade: false };

function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

test('request headers pass through; hop-by-hop and Connection-listed ones are dropped', () => {
  const facts = { hasBody: false, bodyLength: 0 };
  const raw = ['Host', 'A.api.localhost:8080', 'Authorization', 'Bearer t', 'Cookie', 'a=1', 'Cookie', 'b=2',
    'Connection', 'keep-alive, X-Secret', 'X-Secret', 'drop me', 'Keep-Alive', 'timeout=5', 'TE', 'trailers',
    'Proxy-Authorization', 'Basic x', 'Upgrade', 'h2c', 'Trailer', 'X', 'X-Forwarded-For', '1.2.3.4',
    'X-Forwarded-Proto', 'https', 'Expect', '100-continue'];
  const out = pairs(upstreamRequestHeaders(raw, FWD, facts));
  assert.deepEqual(out, [
    ['Host', 'A.api.localhost:8080'], ['Authorization', 'Bearer t'], ['Cookie', 'a=1'], ['Cookie', 'b=2'],
    ['x-forwarded-for', '1.2.3.4, 10.0.0.9'], ['x-forwarded-host', 'A.api.localhost:8080'], ['x-forwarded-proto', 'http'],
  ]);
  assert.equal(facts.hasBody, false);
});

test('bodies are detected from Content-Length or Transfer-Encoding', () => {
  const cases: Array<[string[], boolean, number]> = [
    [['Content-Length', '0'], false, 0], [['Content-Length', '12'], true, 12], [['Transfer-Encoding', 'chunked'], true, -1], [[], false, 0],
  ];
  for (const [raw, hasBody, bodyLength] of cases) {
    const facts = { hasBody: !hasBody, bodyLength: 99 };
    upstreamRequestHeaders(raw, FWD, facts);
    assert.deepEqual(facts, { hasBody, bodyLength }, raw.join(' '));
  }
});

test('a local TLS terminator keeps its X-Forwarded-Proto; upgrades keep Connection and Upgrade', () => {
  const out = pairs(upstreamRequestHeaders(['X-Forwarded-Proto', 'https', 'Connection', 'Upgrade', 'Upgrade', 'websocket'],
    { ...FWD, trustForwardedProto: true, isUpgrade: true }, { hasBody: false, bodyLength: 0 }));
  assert.deepEqual(out.filter(([n]) => n !== 'x-forwarded-for' && n !== 'x-forwarded-host'), [
    ['connection', 'upgrade'], ['upgrade', 'websocket'], ['x-forwarded-proto', 'https'],
  ]);
});
