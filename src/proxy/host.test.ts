import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostResolver, parseHost } from './host.js';
import type { RouteTarget } from './host.js';

const CASES: Array<[string | undefined, RouteTarget]> = [
  ['prod.api.localhost', { kind: 'instance', service: 'api', id: 'prod' }],
  ['Prod.API.LocalHost:8080', { kind: 'instance', service: 'api', id: 'prod' }],
  ['api.localhost', { kind: 'service', service: 'api' }],
  ['api.localhost.', { kind: 'service', service: 'api' }],
  ['admin.localhost', { kind: 'service', service: 'adminsvc' }],
  ['localhost', { kind: 'bare' }],
  ['localhost:8080', { kind: 'bare' }],
  ['127.0.0.1:8080', { kind: 'bare' }],
  ['[::1]:8080', { kind: 'bare' }],
  ['tenement.localhost:8080', { kind: 'dashboard' }],
  ['Tenement.LocalHost', { kind: 'dashboard' }],
  ['a.b.c.localhost', { kind: 'none' }],
  ['bad!.api.localhost', { kind: 'none' }],
  ['-x.localhost', { kind: 'none' }],
  ['.localhost', { kind: 'none' }],
  ['api.example.com', { kind: 'none' }],
  ['evil-localhost', { kind: 'none' }],
  [`${'a'.repeat(64)}.localhost`, { kind: 'none' }],
  ['', { kind: 'none' }],
  [undefined, { kind: 'none' }],
];

test('Host headers route to instance, service, bare domain or nothing', () => {
  for (const [host, expected] of CASES) {
    assert.deepEqual(parseHost(host, 'localhost', { admin: 'adminsvc' }), expected, String(host));
  }
});

test('a custom domain routes its subdomains; localhost and IP literals stay bare', () => {
  const subs = {};
  assert.deepEqual(parseHost('alice.notes.example.com', 'example.com', subs), { kind: 'instance', service: 'notes', id: 'alice' });
  assert.deepEqual(parseHost('example.com:443', 'example.com', subs), { kind: 'bare' });
  assert.deepEqual(parseHost('localhost', 'example.com', subs), { kind: 'bare' });
  assert.deepEqual(parseHost('10.0.0.5', 'example.com', subs), { kind: 'bare' });
  assert.deepEqual(parseHost('notes.localhost', 'example.com', subs), { kind: 'none' });
  assert.deepEqual(parseHost('tenement.example.com', 'example.com', subs), { kind: 'dashboard' });
});

test('the resolver answers the same as parseHost and stays bounded', () => {
  const resolver = new HostResolver('localhost', {}, 4);
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(resolver.resolve(`i${i}.svc.localhost`), { kind: 'instance', service: 'svc', id: `i${i}` });
  }
  assert.deepEqual(resolver.resolve('svc.localhost'), { kind: 'service', service: 'svc' });
});
