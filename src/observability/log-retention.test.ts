// Retention against a real SQLite file: old lines go, and an oversized store shrinks to its limit.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db.js';
import { LogStore, type LogRecord } from '../store/logs.js';
import { LogRetention } from './log-retention.js';

function tempStore(t: TestContext): LogStore {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-retention-'));
  const db = openDb(join(dir, 'tenement.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return new LogStore(db);
}

function lines(from: number, count: number, at: number): LogRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    seq: from + i, at, service: 'notes', id: 'alice', stream: 'stdout' as const,
    line: `request ${from + i} served ${'payload '.repeat(12)}`,
  }));
}

test('lines older than the retention age are deleted; newer ones stay', async (t) => {
  const store = tempStore(t);
  const day = 86_400_000;
  store.insert(lines(1, 3_000, Date.now() - 8 * day));
  store.insert(lines(3_001, 10, Date.now() - day));
  const result = await new LogRetention({ store, days: 7, mb: 1_000, chunkRows: 500 }).runOnce();
  assert.equal(result.deletedByAge, 3_000);
  assert.equal(store.count(), 10);
  assert.equal(store.query({ search: 'request 1' }).length, 0);
});

test('an oversized store is pruned oldest first to under its size limit', async (t) => {
  const store = tempStore(t);
  for (let i = 0; i < 10; i++) store.insert(lines(1 + i * 2_000, 2_000, Date.now()));
  const before = store.usedBytes();
  const limit = Math.floor(before / 3);
  const retention = new LogRetention({ store, days: 1, mb: limit / 1_048_576, chunkRows: 1_000 });
  const result = await retention.runOnce();
  assert.ok(result.deletedBySize > 0);
  // Freed pages are reused: the next lines fit in them instead of growing the store.
  store.insert(lines(30_001, 1_000, Date.now()));
  await retention.runOnce();
  assert.ok(store.usedBytes() <= limit, `${store.usedBytes()} bytes used, limit ${limit}`);
  const kept = store.query({ limit: 10_000 });
  assert.equal(kept.at(-1)?.seq, 31_000, 'the newest line is kept');
  assert.ok(store.count() < 21_000);
});
