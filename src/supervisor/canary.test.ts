// The stable versions' weights at a canary step: in their old proportions, whole numbers, summing
// to exactly what the step leaves them, so the new version's share is the step's percentage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scaleWeights } from './canary.js';

test('one stable version gets what the step leaves', () => {
  assert.deepEqual(scaleWeights({ v1: 100 }, 90), { v1: 90 });
  assert.deepEqual(scaleWeights({ v1: 20 }, 50), { v1: 50 });
  assert.deepEqual(scaleWeights({ v1: 100 }, 0), { v1: 0 });
});

test('several stable versions keep their proportions and sum exactly to the rest', () => {
  assert.deepEqual(scaleWeights({ a: 50, b: 50 }, 90), { a: 45, b: 45 });
  assert.deepEqual(scaleWeights({ a: 75, b: 25 }, 50), { a: 38, b: 12 });
  const thirds = scaleWeights({ a: 1, b: 1, c: 1 }, 50);
  assert.equal(Object.values(thirds).reduce((x, y) => x + y, 0), 50);
  assert.deepEqual(Object.values(thirds).sort(), [16, 17, 17]);
});
