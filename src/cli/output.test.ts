import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatTable } from './output.js';

test('durations read as 12s, 3m, 2h, 4d; unknown as -', () => {
  const cases: Array<[number | null, string]> = [[null, '-'], [0, '0s'], [12.7, '12s'], [59, '59s'], [60, '1m'], [200, '3m'], [3599, '59m'], [7200, '2h'], [86_400 * 4, '4d']];
  for (const [s, text] of cases) assert.equal(formatDuration(s), text, String(s));
});

test('tables align columns to the widest cell', () => {
  assert.equal(formatTable(['A', 'BB', 'C'], [['long-value', 'x', 'last'], ['s', 'yyy', '']]),
    'A           BB   C\nlong-value  x    last\ns           yyy');
});
