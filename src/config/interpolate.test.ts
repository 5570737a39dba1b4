// Env templates: which `{word}`s are unknown, and what interpolation produces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findUnknownVariables, interpolate } from './interpolate.js';

const values = { name: 'notes', id: 'alice', data_dir: '/var/lib/ten', port: 30001 };

const interpolateCases = [
  { template: '{data_dir}/{name}/{id}', out: '/var/lib/ten/notes/alice' },
  { template: 'http://127.0.0.1:{port}/', out: 'http://127.0.0.1:30001/' },
  { template: '{id}-{id}', out: 'alice-alice' },
  { template: 'plain text', out: 'plain text' },
  { template: '{"json": {"a": 1}} {} { id }', out: '{"json": {"a": 1}} {} { id }' },
  { template: '{{id}}', out: '{alice}' },
  { template: '{unknown} stays', out: '{unknown} stays' },
  { template: '', out: '' },
];
for (const c of interpolateCases) {
  test(`interpolate ${JSON.stringify(c.template)} → ${JSON.stringify(c.out)}`, () => {
    assert.equal(interpolate(c.template, values), c.out);
  });
}

const unknownCases = [
  { template: '{data_dir}/{name}/{id}:{port}', unknown: [] },
  { template: '{foo}', unknown: ['foo'] },
  { template: '{foo} {bar} {foo} {id}', unknown: ['foo', 'bar'] },
  { template: '{service}', unknown: ['service'] },
  { template: '{Name}', unknown: ['Name'] },
  { template: '{"a": 1} {} { id } {a-b}', unknown: [] },
];
for (const c of unknownCases) {
  test(`findUnknownVariables ${JSON.stringify(c.template)} → ${JSON.stringify(c.unknown)}`, () => {
    assert.deepEqual(findUnknownVariables(c.template), c.unknown);
  });
}
