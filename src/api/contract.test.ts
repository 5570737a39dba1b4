import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from './body.js';
import { DeployBodySchema, RouteBodySchema, SpawnBodySchema, WeightBodySchema } from './contract.js';
import { codeOf } from '../../test/helpers/error-code.js';

test('spawn bodies accept "service" or its alias "process", and refuse bad names', () => {
  assert.deepEqual(validate(SpawnBodySchema, { service: 'notes', id: 'alice' }), { service: 'notes', id: 'alice', weight: undefined, wait: false });
  assert.deepEqual(validate(SpawnBodySchema, { process: 'notes', id: 'alice', weight: 5, wait: true }), { service: 'notes', id: 'alice', weight: 5, wait: true });
  const cases: Array<[unknown, string]> = [
    [{ service: 'notes', id: '../x' }, 'invalid_name'],
    [{ service: 'NOTES', id: 'a' }, 'invalid_name'],
    [{ service: 'notes', id: 'a', weight: 101 }, 'invalid_weight'],
    [{ service: 'notes', id: 'a', weight: 1.5 }, 'invalid_weight'],
    [{ service: 'notes', process: 'notes', id: 'a' }, 'bad_request'],
    [{ id: 'a' }, 'bad_request'],
    [{ service: 'notes', id: 'a', extra: 1 }, 'bad_request'],
    [undefined, 'bad_request'],
  ];
  for (const [body, code] of cases) assert.equal(codeOf(() => validate(SpawnBodySchema, body)), code, JSON.stringify(body));
});

test('deploy accepts "timeout" or "timeout_secs" and defaults weight 100', () => {
  assert.deepEqual(validate(DeployBodySchema, { service: 'api', version: 'v2' }), { service: 'api', version: 'v2', weight: 100, timeoutS: 60 });
  assert.equal(validate(DeployBodySchema, { process: 'api', version: 'v2', timeout_secs: 5 }).timeoutS, 5);
  assert.equal(validate(DeployBodySchema, { service: 'api', version: 'v2', timeout: 7, weight: 0 }).timeoutS, 7);
  assert.equal(codeOf(() => validate(DeployBodySchema, { service: 'api', version: 'V2' })), 'invalid_name');
});

test('a canary deploy needs increasing steps 1-100, takes an interval, and no weight', () => {
  assert.deepEqual(validate(DeployBodySchema, { service: 'api', version: 'v2', canary: [10, 50, 100], interval: 2 }).canary, { steps: [10, 50, 100], intervalS: 2 });
  assert.deepEqual(validate(DeployBodySchema, { service: 'api', version: 'v2', canary: [100] }).canary, { steps: [100], intervalS: 60 });
  for (const body of [
    { canary: [] }, { canary: [0, 100] }, { canary: [50, 10] }, { canary: [10, 10] }, { canary: [10, 101] }, { canary: [1.5] },
    { canary: [10], weight: 50 }, { interval: 5 }, { canary: [10], interval: 0 },
  ]) {
    assert.equal(codeOf(() => validate(DeployBodySchema, { service: 'api', version: 'v2', ...body })), 'bad_request', JSON.stringify(body));
  }
});

test('route needs two different valid versions; weight bodies need 0-100', () => {
  assert.deepEqual(validate(RouteBodySchema, { service: 'api', from: 'v1', to: 'v2' }), { service: 'api', from: 'v1', to: 'v2' });
  assert.equal(codeOf(() => validate(RouteBodySchema, { service: 'api', from: 'v1', to: 'v1' })), 'bad_request');
  assert.equal(codeOf(() => validate(WeightBodySchema, { weight: 'abc' })), 'invalid_weight');
  assert.equal(codeOf(() => validate(WeightBodySchema, { weight: -1 })), 'invalid_weight');
  assert.deepEqual(validate(WeightBodySchema, { weight: 0 }), { weight: 0 });
});
