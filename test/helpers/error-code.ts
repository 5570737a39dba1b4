/** The TenementError code `fn` throws, or 'ok' if it returns: for table-driven validation tests. */
import assert from 'node:assert/strict';
import { TenementError } from '../../src/core/errors.js';

export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TenementError);
    return err.code;
  }
  return 'ok';
}
