import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeOf, TenementError } from '../core/errors.js';
import { parseCohorts, parseInterval, parsePort, parseTarget, parseWeight } from './args.js';

function failure(fn: () => unknown): { code: string; exit: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TenementError);
    return { code: err.code, exit: exitCodeOf(err.code), message: err.message };
  }
  assert.fail('expected an error');
}

test('weights are whole numbers 0-100; anything else is an input error (exit 2)', () => {
  assert.equal(parseWeight('0'), 0);
  assert.equal(parseWeight('100'), 100);
  for (const bad of ['101', 'abc', '-1', '1.5', '', '1e2']) {
    const f = failure(() => parseWeight(bad));
    assert.equal(f.code, 'invalid_weight');
    assert.equal(f.exit, 2);
    assert.match(f.message, /0 to 100/);
  }
});

test('instances are SERVICE:ID or SERVICE --id ID, never both, never bad labels', () => {
  assert.deepEqual(parseTarget('notes:alice', undefined, 'id'), { service: 'notes', id: 'alice' });
  assert.deepEqual(parseTarget('notes', 'alice', 'id'), { service: 'notes', id: 'alice' });
  assert.deepEqual(parseTarget('api', 'v2', 'version'), { service: 'api', id: 'v2' });
  assert.equal(failure(() => parseTarget('notes:../x', undefined, 'id')).code, 'invalid_name');
  assert.equal(failure(() => parseTarget('NOTES:a', undefined, 'id')).code, 'invalid_name');
  assert.equal(failure(() => parseTarget('notes', undefined, 'id')).code, 'usage');
  assert.equal(failure(() => parseTarget('notes:a', 'b', 'id')).exit, 2);
  assert.equal(parsePort('0'), 0);
  assert.equal(failure(() => parsePort('70000')).code, 'usage');
});

test('rollout --interval takes seconds, minutes or hours; --cohorts whole percentages (else exit 2)', () => {
  assert.equal(parseInterval('30s'), 30);
  assert.equal(parseInterval('2m'), 120);
  assert.equal(parseInterval('1h'), 3600);
  assert.equal(parseInterval('1.5'), 1.5);
  for (const bad of ['', '0s', 'soon', '-1s', '30x', '1d']) {
    const f = failure(() => parseInterval(bad));
    assert.equal(f.exit, 2, bad);
    assert.match(f.message, /^invalid interval/);
  }
  assert.deepEqual(parseCohorts('1,10,50,100'), [1, 10, 50, 100]);
  assert.deepEqual(parseCohorts(' 50 , 100'), [50, 100]);
  for (const bad of ['', '1,,100', '1;100', '-5,100', '1.5,100', '1000']) {
    const f = failure(() => parseCohorts(bad));
    assert.equal(f.exit, 2, bad);
    assert.match(f.message, /^invalid cohorts/);
  }
});
