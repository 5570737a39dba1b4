// Log capture with a real EventBus, a real writer thread and a real SQLite file: batching, events,
// flood limits, live feed, numbering across restarts, retention, and floods stored in full.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../store/db.js';
import { InstanceStore } from '../store/instances.js';
import { LogStore, type LogRecord } from '../store/logs.js';
import { EventBus } from '../core/events.js';
import { LogCapture, type LogCaptureOptions } from './log-capture.js';
import { waitFor } from '../../test/helpers/wait.js';

interface Setup { bus: EventBus; db: Db; store: LogStore; capture: LogCapture; file: string }

function setup(t: TestContext, options: Partial<LogCaptureOptions> = {}, prepare?: (store: LogStore) => void): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-capture-'));
  const file = join(dir, 'tenement.db');
  const db = openDb(file);
  const store = new LogStore(db);
  prepare?.(store);
  const bus = new EventBus();
  const capture = new LogCapture({ store, file, events: bus, ...options });
  capture.start();
  t.after(async () => {
    await capture.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { bus, db, store, capture, file };
}

function output(bus: EventBus, id: string, stream: 'stdout' | 'stderr', line: string): void {
  bus.emit('output', { instance: `notes:${id}`, service: 'notes', id, stream, line, at: Date.now() });
}

test('output lines and lifecycle events are stored in order, events on their own stream', async (t) => {
  const { bus, store } = setup(t);
  output(bus, 'alice', 'stdout', 'listening');
  output(bus, 'alice', 'stderr', 'warning: low disk');
  bus.emit('lifecycle', { instance: 'notes:alice', service: 'notes', id: 'alice', kind: 'crash', message: 'exited with code 1', at: Date.now() });
  await waitFor(() => store.count() === 3, 5000, 'the flush timer');
  assert.deepEqual(
    store.query({}).map((r) => `${r.stream} ${r.line}`),
    ['stdout listening', 'stderr warning: low disk', 'event crash: exited with code 1'],
  );
  assert.deepEqual(store.query({ stream: 'stderr' }).map((r) => r.line), ['warning: low disk']);
});

test('a flooding instance is cut to its budget with a visible drop marker; others are unaffected', async (t) => {
  const { bus, store, capture } = setup(t, { linesPerSecond: 100, burstLines: 500, maxQueuedPerInstance: 400, batchLines: 100 });
  for (let i = 0; i < 50_000; i++) output(bus, 'flood', 'stdout', `spam ${i}`);
  output(bus, 'quiet', 'stdout', 'still here');
  await capture.flush();
  const flooded = store.query({ id: 'flood', limit: 10_000 });
  assert.ok(flooded.length <= 500 + 1, `stored ${flooded.length} lines`);
  const marker = flooded.at(-1)?.line ?? '';
  assert.match(marker, /^\[tenement\] \d+ lines dropped/);
  assert.equal(Number(/\d+/.exec(marker)?.[0]) + flooded.length - 1, 50_000);
  assert.deepEqual(store.query({ id: 'quiet' }).map((r) => r.line), ['still here']);
  assert.equal(capture.dropped + capture.stored, 50_001 + 1);
});

test('a very long line is cut with a note saying how much', async (t) => {
  const { bus, store, capture } = setup(t, { maxLineChars: 100 });
  output(bus, 'alice', 'stdout', 'x'.repeat(250));
  await capture.flush();
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
  const { bus, store, capture, file } = setup(t);
  output(bus, 'alice', 'stdout', 'before restart');
  await capture.close();
  const again = new LogCapture({ store, file, events: bus });
  again.start();
  t.after(() => again.close());
  output(bus, 'alice', 'stdout', 'after restart');
  await again.flush();
  const rows = store.query({});
  assert.deepEqual(rows.map((r) => r.line), ['before restart', 'after restart']);
  assert.ok(rows[1]!.seq > rows[0]!.seq);
});

/** `lines` lines from 10 instances, 250 per turn of the loop as a child's pipe delivers them. */
async function flood(bus: EventBus, lines: number, eachTurn: (sent: number) => void = () => {}): Promise<void> {
  for (let sent = 0; sent < lines; sent += 250) {
    for (let i = sent; i < sent + 250; i++) output(bus, `t${i % 10}`, 'stdout', `GET /items/${i} 200 ${'x'.repeat(60)}`);
    eachTurn(sent);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const UNLIMITED: Partial<LogCaptureOptions> = { linesPerSecond: 1e9, burstLines: 1e9, maxQueuedPerInstance: 1e9 };

// How long the event loop and the server's own writes wait during a flood is measured in
// bench/logs.ts (`npm run bench -- logs`), not asserted here.
test('a 200,000-line flood from 10 instances is stored in full', async (t) => {
  const { bus, store, capture } = setup(t, UNLIMITED);
  await flood(bus, 200_000);
  await capture.flush();
  assert.equal(store.count(), 200_000);
  assert.equal(capture.stored, 200_000);
  assert.equal(capture.dropped, 0);
});

test('the server\'s own writes go through while a flood is written', async (t) => {
  const { bus, db, capture } = setup(t, UNLIMITED);
  const instances = new InstanceStore(db);
  await flood(bus, 200_000, (sent) => {
    if (sent % 10_000 === 0) instances.insert('notes', `n${sent}`, 100, 'running');
  });
  await capture.flush();
  assert.equal(instances.all().length, 20);
  assert.equal(capture.stored, 200_000);
});

test('retention runs in the writer thread: lines past the age limit are deleted soon after start', async (t) => {
  const day = 86_400_000;
  const old: LogRecord[] = Array.from({ length: 2_000 }, (_, i) => ({
    seq: i + 1, at: Date.now() - 8 * day, service: 'notes', id: 'alice', stream: 'stdout', line: `old ${i}`,
  }));
  const { bus, store, capture } = setup(t, { retention: { days: 7, mb: 1_000 } }, (s) => s.insert(old));
  output(bus, 'alice', 'stdout', 'fresh');
  await capture.flush();
  await waitFor(() => store.count() === 1, 5000, 'retention to prune the old lines');
  const [kept] = store.query({});
  assert.equal(kept?.line, 'fresh');
  assert.equal(kept?.seq, 2_001, 'numbering continues after the pruned lines');
});
