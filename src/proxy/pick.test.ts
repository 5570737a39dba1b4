import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cumulativeWeights, pickWeighted } from './pick.js';

test('picks follow the weights', () => {
  const cumulative = cumulativeWeights([80, 20]);
  const counts = [0, 0];
  const n = 10_000;
  for (let i = 0; i < n; i++) counts[pickWeighted(cumulative, Math.random())]! += 1;
  assert.ok(Math.abs(counts[0]! / n - 0.8) < 0.03, `80/20 split gave ${counts.join('/')}`);
});

test('band edges map to the right index, empty arrays to -1', () => {
  const cumulative = cumulativeWeights([10, 30, 60]);
  const cases: Array<[number, number]> = [[0, 0], [0.0999, 0], [0.1, 1], [0.3999, 1], [0.4, 2], [0.9999, 2]];
  for (const [random, index] of cases) assert.equal(pickWeighted(cumulative, random), index, `random ${random}`);
  assert.equal(pickWeighted(new Float64Array(0), 0.5), -1);
  assert.equal(pickWeighted(cumulativeWeights([5]), 0.99), 0);
});
