/**
 * The log writer thread: every log write (batch inserts, FTS merges, retention deletes, WAL
 * checkpoints) runs here on its own SQLite connection, so none of it can stall the main event loop.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from '../store/db.js';
import { LogStore } from '../store/logs.js';
import { decodeBatch, HEARTBEAT_MS, type WriterReply, type WriterRequest, type WriterSettings } from './log-batch.js';
import { LogRetention } from './log-retention.js';

const port = parentPort;
if (port === null) throw new Error('log-writer-worker runs as a worker thread');
const settings = workerData as WriterSettings;

const db = openDb(settings.file);
const store = new LogStore(db);
const reply = (message: WriterReply): void => port.postMessage(message);
const reportError = (err: unknown): void => reply({ type: 'error', error: messageOf(err) });

/** Rows per transaction: each one holds the write lock a few ms at most. */
const ROWS_PER_TRANSACTION = 250;
/** The main thread counts as stalled when its heartbeat has not moved for this long... */
const STALLED_MS = HEARTBEAT_MS * 2.5;
/** ...and this thread then leaves the write lock alone until it moves, or for this long at most. */
const STAND_ASIDE_MS = 250;

const beat = new Int32Array(settings.heartbeat);
let lastBeat = Atomics.load(beat, 0);
let lastBeatAt = performance.now();

/**
 * Called before taking the write lock. SQLite's busy handler polls (1, 2, 5 … 100 ms apart), it
 * does not queue: a main-thread write (instances, tokens) waiting on the lock would lose nearly
 * every poll to this thread's back-to-back transactions under a flood, blocking the main event
 * loop for seconds. A main thread whose heartbeat stopped may be in that wait, so stand aside.
 */
function standAsideIfMainThreadStalled(): void {
  const now = performance.now();
  const current = Atomics.load(beat, 0);
  if (current !== lastBeat) {
    lastBeat = current;
    lastBeatAt = now;
    return;
  }
  if (now - lastBeatAt < STALLED_MS) return;
  Atomics.wait(beat, 0, current, STAND_ASIDE_MS);
  lastBeat = Atomics.load(beat, 0);
  lastBeatAt = performance.now();
}

const retention = settings.retention === undefined ? undefined : new LogRetention({
  store, days: settings.retention.days, mb: settings.retention.mb, intervalMs: settings.retention.intervalMs,
  beforeWrite: standAsideIfMainThreadStalled, onError: reportError,
});
retention?.start();

// The main connection leaves checkpoints to this thread; a passive one never waits on readers.
let writtenSinceCheckpoint = false;
const checkpoints = setInterval(() => {
  if (!writtenSinceCheckpoint) return;
  writtenSinceCheckpoint = false;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    reportError(err);
  }
}, settings.checkpointIntervalMs ?? 10_000);
checkpoints.unref();

port.on('message', (request: WriterRequest) => {
  switch (request.type) {
    case 'write': {
      const records = decodeBatch(request.batch);
      let stored = 0;
      try {
        for (; stored < records.length; stored += ROWS_PER_TRANSACTION) {
          standAsideIfMainThreadStalled();
          store.insert(records.slice(stored, stored + ROWS_PER_TRANSACTION));
          writtenSinceCheckpoint = true;
        }
        reply({ type: 'done', stored: records.length });
      } catch (err) {
        reply({ type: 'done', stored, error: messageOf(err) });
      }
      return;
    }
    case 'sync':
      // Messages are handled in order: every write sent before this one is already committed.
      reply({ type: 'done', stored: 0 });
      return;
    case 'close':
      clearInterval(checkpoints);
      void (retention?.close() ?? Promise.resolve()).finally(() => {
        db.close();
        reply({ type: 'done', stored: 0 });
        port.close();
      });
      return;
  }
});

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
