/**
 * The messages between LogCapture (main thread) and the log writer worker, and the columnar form a
 * batch of log records travels in: typed arrays moved without a copy, and one string per line.
 * @module
 */
import { formatInstanceName } from '../core/names.js';
import { LOG_STREAMS, type LogRecord } from '../store/logs.js';

/** A batch of records as columns; `source[i]` indexes the (service, id) pair `names[2i]`, `names[2i+1]`. */
export interface EncodedBatch {
  readonly seq: Float64Array;
  readonly at: Float64Array;
  readonly source: Uint32Array;
  readonly stream: Uint8Array;
  readonly line: string[];
  readonly names: string[];
}

export interface RetentionSettings {
  /** `log_retention_days` (fractions allowed). */
  readonly days: number;
  /** `log_retention_mb` (fractions allowed). */
  readonly mb: number;
  /** How often to check (default 60 s). */
  readonly intervalMs?: number;
}

/** What the worker is started with (its `workerData`). */
export interface WriterSettings {
  /** The SQLite file; the worker opens its own connection to it. */
  readonly file: string;
  /**
   * One Int32 the main thread increments (and notifies) every HEARTBEAT_MS while its event loop
   * runs; the worker stands aside from the write lock when it stops moving (see the worker).
   */
  readonly heartbeat: SharedArrayBuffer;
  readonly retention?: RetentionSettings | undefined;
  /** How often the worker runs a passive WAL checkpoint (default 10 s). */
  readonly checkpointIntervalMs?: number | undefined;
}

/** How often the main thread ticks the heartbeat. */
export const HEARTBEAT_MS = 10;

/** Main thread → worker. Each request gets exactly one `done` reply, in the order sent. */
export type WriterRequest =
  | { readonly type: 'write'; readonly batch: EncodedBatch }
  | { readonly type: 'sync' }
  | { readonly type: 'close' };

/** Worker → main thread: a request's reply (`stored` lines for a write), or a background error. */
export type WriterReply =
  | { readonly type: 'done'; readonly stored: number; readonly error?: string }
  | { readonly type: 'error'; readonly error: string };

export function encodeBatch(records: readonly LogRecord[]): EncodedBatch {
  const n = records.length;
  const batch: EncodedBatch = {
    seq: new Float64Array(n), at: new Float64Array(n), source: new Uint32Array(n), stream: new Uint8Array(n),
    line: new Array<string>(n), names: [],
  };
  const sources = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const key = formatInstanceName(r.service, r.id);
    let source = sources.get(key);
    if (source === undefined) {
      source = sources.size;
      sources.set(key, source);
      batch.names.push(r.service, r.id);
    }
    batch.seq[i] = r.seq;
    batch.at[i] = r.at;
    batch.source[i] = source;
    batch.stream[i] = LOG_STREAMS.indexOf(r.stream);
    batch.line[i] = r.line;
  }
  return batch;
}

export function decodeBatch(batch: EncodedBatch): LogRecord[] {
  const records = new Array<LogRecord>(batch.line.length);
  for (let i = 0; i < records.length; i++) {
    const source = batch.source[i]!;
    records[i] = {
      seq: batch.seq[i]!, at: batch.at[i]!, service: batch.names[2 * source]!, id: batch.names[2 * source + 1]!,
      stream: LOG_STREAMS[batch.stream[i]!]!, line: batch.line[i]!,
    };
  }
  return records;
}

/** The buffers to move (not copy) when posting a batch. */
export function transferablesOf(batch: EncodedBatch): ArrayBuffer[] {
  return [batch.seq.buffer, batch.at.buffer, batch.source.buffer, batch.stream.buffer] as ArrayBuffer[];
}
