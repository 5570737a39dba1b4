import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type ApiRoute } from './router.js';

const route = (method: ApiRoute['method'], path: string): ApiRoute => ({ method, path, auth: 'none', handler: async () => undefined });

test('routes match by method and path, with decoded parameters', () => {
  const list = route('GET', '/api/instances');
  const info = route('GET', '/api/instances/:name');
  const weight = route('PUT', '/api/instances/:name/weight');
  const router = new Router([list, info, weight]);
  const cases: Array<[string, string, ApiRoute | undefined | 'method_not_allowed', Record<string, string>?]> = [
    ['GET', '/api/instances', list, {}],
    ['GET', '/api/instances/', list, {}],
    ['GET', '/api/instances/notes:alice', info, { name: 'notes:alice' }],
    ['GET', '/api/instances/notes%3Aalice', info, { name: 'notes:alice' }],
    ['HEAD', '/api/instances', list, {}],
    ['PUT', '/api/instances/notes:alice/weight', weight, { name: 'notes:alice' }],
    ['POST', '/api/instances/notes:alice/weight', 'method_not_allowed'],
    ['GET', '/api/instances/notes:alice/nope', undefined],
    ['GET', '/api/instances/%E0%A4%A', undefined],
    ['GET', '/', undefined],
  ];
  for (const [method, path, expected, params] of cases) {
    const m = router.match(method, path);
    if (expected === undefined || expected === 'method_not_allowed') {
      assert.equal(m, expected, `${method} ${path}`);
    } else {
      assert.ok(typeof m === 'object', `${method} ${path} should match`);
      assert.equal(m.route, expected, `${method} ${path}`);
      assert.deepEqual(m.params, params);
    }
  }
});
