// Log capture with a real EventBus and a real SQLite file: batching, events, flood limits, live feed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db.js';
import { LogStore, type LogRecord } from '../store/logs.js';
import { EventBus } from './events.js';
import { LogCapture, type LogCaptureOptions } from './log-capture.js';

function setup(t: TestContext, options: Partial<LogCaptureOptions> = {}): { bus: EventBus; store: LogStore; capture: LogCapture; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-capture-'));
  const file = join(dir, 'tenement.db');
  const db = openDb(file);
  const store = new LogStore(db);
  const bus = new EventBus();
  const capture = new LogCapture({ store, events: bus, ...options });
  capture.start();
  t.after(() => {
    void capture.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { bus, store, capture, file };
}

function output(bus: EventBus, id: string, stream: 'stdout' | 'stderr', line: string): void {
  bus.emit('output', { instance: `notes:${id}`, service: 'notes', id, stream, line, at: Date.now() });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('output lines and lifecycle events are stored in order, events on their own stream', async (t) => {
  const { bus, store } = setup(t);
  output(bus, 'alice', 'stdout', 'listening');
  output(bus, 'alice', 'stderr', 'warning: low disk');
  bus.emit('lifecycle', { instance: 'notes:alice', service: 'notes', id: 'alice', kind: 'crash', message: 'exited with code 1', at: Date.now() });
  await until(() => store.count() === 3, 'the flush timer');
  assert.deepEqual(
    store.query({}).map((r) => `${r.stream} ${r.line}`),
    ['stdout listening', 'stderr warning: low disk', 'event crash: exited with code 1'],
  );
  assert.deepEqual(store.query({ stream: 'stderr' }).map((r) => r.line), ['warning: low disk']);
});

test('a flooding instance is cut to its budget with a visible drop marker; others are unaffected', (t) => {
  const { bus, store, capture } = setup(t, { linesPerSecond: 100, burstLines: 500, maxQueuedPerInstance: 400, batchLines: 100 });
  for (let i = 0; i < 50_000; i++) output(bus, 'flood', 'stdout', `spam ${i}`);
  output(bus, 'quiet', 'stdout', 'still here');
  capture.flush();
  const flooded = store.query({ id: 'flood', limit: 10_000 });
  assert.ok(flooded.length <= 500 + 1, `stored ${flooded.length} lines`);
  const marker = flooded.at(-1)?.line ?? '';
  assert.match(marker, /^\[tenement\] \d+ lines dropped/);
  assert.equal(Number(/\d+/.exec(marker)?.[0]) + flooded.length - 1, 50_000);
  assert.deepEqual(store.query({ id: 'quiet' }).map((r) => r.line), ['still here']);
  assert.equal(capture.dropped + capture.stored, 50_001 + 1);
});

test('a very long line is cut with a note saying how much', (t) => {
  const { bus, store, capture } = setup(t, { maxLineChars: 100 });
  output(bus, 'alice', 'stdout', 'x'.repeat(250));
  capture.flush();
  const [row] = store.query({});
  assert.equal(row?.line, `${'x'.repeat(100)} [tenement] line cut: 150 more characters`);
});

test('followers see each line live, before it is stored', (t) => {
  const { bus, capture } = setup(t);
  const seen: LogRecord[] = [];
  const unfollow = capture.follow((r) => seen.push(r));
  output(bus, 'alice', 'stdout', 'live one');
  unfollow();
  output(bus, 'alice', 'stdout', 'after unfollow');
  assert.deepEqual(seen.map((r) => r.line), ['live one']);
});

test('a new capture on the same store continues the numbering after a restart', async (t) => {
  const { bus, store, capture } = setup(t);
  output(bus, 'alice', 'stdout', 'before restart');
  await capture.close();
  const again = new LogCapture({ store, events: bus });
  again.start();
  t.after(() => void again.close());
  output(bus, 'alice', 'stdout', 'after restart');
  again.flush();
  const rows = store.query({});
  assert.deepEqual(rows.map((r) => r.line), ['before restart', 'after restart']);
  assert.ok(rows[1]!.seq > rows[0]!.seq);
});
