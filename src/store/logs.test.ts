// The logs repository against a real SQLite file: filters, safe search, order, retention deletes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from './db.js';
import { LogStore, planSearch, type LogRecord, type LogStream } from './logs.js';

function tempStore(t: TestContext): { store: LogStore; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-logs-'));
  const file = join(dir, 'tenement.db');
  const db = openDb(file);
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store: new LogStore(db), file };
}

let seq = 0;
function rec(service: string, id: string, stream: LogStream, line: string, at = Date.now()): LogRecord {
  seq += 1;
  return { seq, at, service, id, stream, line };
}

test('lines come back newest last, limited to the newest N', (t) => {
  const { store } = tempStore(t);
  store.insert(Array.from({ length: 10 }, (_, i) => rec('notes', 'alice', 'stdout', `line ${i}`)));
  const lines = store.query({ limit: 3 }).map((r) => r.line);
  assert.deepEqual(lines, ['line 7', 'line 8', 'line 9']);
});

test('with oldest, the first N after a seq come back: a resumed follow pages forward without a gap', (t) => {
  const { store } = tempStore(t);
  const records = Array.from({ length: 10 }, (_, i) => rec('notes', 'alice', 'stdout', `line ${i}`));
  store.insert(records);
  const page = store.query({ afterSeq: records[2]!.seq, limit: 3, oldest: true }).map((r) => r.line);
  assert.deepEqual(page, ['line 3', 'line 4', 'line 5']);
  assert.deepEqual(store.query({ afterSeq: records[2]!.seq, limit: 3 }).map((r) => r.line), ['line 7', 'line 8', 'line 9'], 'without it, the newest');
});

test('service, id, stream, time and words filters combine', (t) => {
  const { store } = tempStore(t);
  const old = Date.now() - 3_600_000;
  store.insert([
    rec('notes', 'alice', 'stdout', 'payment accepted for order 1'),
    rec('notes', 'alice', 'stderr', 'payment failed for order 2'),
    rec('notes', 'bob', 'stderr', 'payment failed for order 3'),
    rec('api', 'alice', 'stderr', 'payment failed for order 4'),
    rec('notes', 'alice', 'stderr', 'payment failed for order 5', old),
    rec('notes', 'alice', 'stderr', 'unrelated'),
  ]);
  const found = store.query({ service: 'notes', id: 'alice', stream: 'stderr', sinceMs: Date.now() - 60_000, search: 'payment failed' });
  assert.deepEqual(found.map((r) => r.line), ['payment failed for order 2']);
  assert.equal(store.query({ id: 'alice', search: 'payment' }).length, 4);
  assert.equal(store.query({ stream: 'stdout' }).length, 1);
});

test('a marker with punctuation is found by searching for it whole', (t) => {
  const { store } = tempStore(t);
  store.insert([rec('notes', 'alice', 'stdout', 'boot marker-7f3a9 done'), rec('notes', 'alice', 'stdout', 'marker other')]);
  assert.deepEqual(store.query({ search: 'marker-7f3a9' }).map((r) => r.line), ['boot marker-7f3a9 done']);
});

test('FTS metacharacters in a search neither error nor match everything', (t) => {
  const { store } = tempStore(t);
  store.insert([
    rec('notes', 'alice', 'stdout', 'foo bar'),
    rec('notes', 'alice', 'stdout', 'hello world'),
    rec('notes', 'alice', 'stdout', 'foobar or something'),
  ]);
  for (const search of ['"foo* OR', 'foo* OR', 'NEAR(foo bar)', 'line:foo', '*', '"', '^foo', 'foo AND NOT bar', '(']) {
    const found = store.query({ search });
    assert.ok(found.length < 3, `${search} matched everything`);
  }
  assert.deepEqual(store.query({ search: 'foo* OR' }).map((r) => r.line), []);
  assert.deepEqual(store.query({ search: 'NOT' }).map((r) => r.line), []);
});

test('tokens without letters or digits are matched as substrings', (t) => {
  const { store } = tempStore(t);
  store.insert([rec('notes', 'alice', 'stdout', 'a -> b'), rec('notes', 'alice', 'stdout', 'a b')]);
  assert.deepEqual(store.query({ search: '->' }).map((r) => r.line), ['a -> b']);
  assert.deepEqual(planSearch('say "hi" ->'), { match: '"say" """hi"""', substrings: ['->'] });
});

test('retention deletes old lines and the oldest lines, and search forgets them', (t) => {
  const { store } = tempStore(t);
  const old = Date.now() - 10 * 86_400_000;
  store.insert([rec('notes', 'alice', 'stdout', 'ancient needle', old), rec('notes', 'alice', 'stdout', 'fresh needle')]);
  assert.equal(store.deleteOlderThan(Date.now() - 86_400_000, 1000), 1);
  assert.deepEqual(store.query({ search: 'needle' }).map((r) => r.line), ['fresh needle']);
  store.insert([rec('notes', 'alice', 'stdout', 'newer needle')]);
  assert.equal(store.deleteOldest(1), 1);
  assert.deepEqual(store.query({ search: 'needle' }).map((r) => r.line), ['newer needle']);
});

test('lines survive closing and reopening the store', (t) => {
  const { store, file } = tempStore(t);
  store.insert([rec('notes', 'alice', 'stdout', 'persisted zebra')]);
  const again = openDb(file);
  t.after(() => again.close());
  const reopened = new LogStore(again);
  assert.equal(reopened.query({ search: 'zebra' }).length, 1);
  assert.equal(reopened.lastSeq(), store.lastSeq());
});
