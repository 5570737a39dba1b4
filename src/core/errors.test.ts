// The error catalogue itself: every code has an HTTP status and an exit code that fit each other,
// is documented in docs/errors.md, and converts back from an unknown error as `internal`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOGUE, TenementError, exitCodeOf, httpStatusOf, isErrorCode, toTenementError, type ErrorCode } from './errors.js';

const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('every code has a status that is an error (or 0 for CLI-only codes) and an exit code of 1 or 2', () => {
  for (const code of codes) {
    const status = httpStatusOf(code);
    assert.ok(status === 0 || (status >= 400 && status < 600), `${code}: ${status}`);
    assert.ok([1, 2].includes(exitCodeOf(code)), code);
  }
});

test('input errors exit 2 and are 4xx; everything else exits 1', () => {
  for (const code of codes) {
    const status = httpStatusOf(code);
    if (exitCodeOf(code) === 2) assert.ok(status === 400, `${code} exits 2 but answers ${status}`);
  }
  assert.equal(exitCodeOf('invalid_name'), 2);
  assert.equal(exitCodeOf('instance_not_found'), 1);
});

test('every code is documented in docs/errors.md with its status and exit code', () => {
  for (const code of codes) {
    const row = docs.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row !== undefined, `${code} has no row in docs/errors.md`);
    const [, , status, exit] = row.split('|').map((c) => c.trim());
    // invalid_config never travels over HTTP: `ten serve` stops before it listens.
    assert.equal(status, httpStatusOf(code) === 0 || code === 'invalid_config' ? '—' : String(httpStatusOf(code)), `${code} status`);
    assert.equal(exit, String(exitCodeOf(code)), `${code} exit`);
  }
});

test('an uncoded error becomes internal, a coded one stays itself', () => {
  assert.equal(toTenementError(new Error('boom')).code, 'internal');
  const e = new TenementError('forbidden', 'no');
  assert.equal(toTenementError(e), e);
  assert.ok(isErrorCode('invalid_name'));
  assert.ok(!isErrorCode('nope'));
});
