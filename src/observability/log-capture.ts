/**
 * Log capture: instance output lines and lifecycle events from the EventBus become numbered log
 * records, fed live to followers and posted in batches to the log writer thread, which stores each
 * batch in one transaction. Each instance has a rate limit and a bounded queue (lines accepted but
 * not yet committed); what is over them is dropped and counted, and a "N lines dropped" line takes
 * its place. Only this bounded accounting runs on the main thread; SQLite writes never do.
 * @module
 */
import type { EventBus, LifecycleEvent, OutputLineEvent } from '../core/events.js';
import { formatInstanceName } from '../core/names.js';
import type { LogRecord, LogStore, LogStream } from '../store/logs.js';
import type { RetentionSettings } from './log-batch.js';
import { LogWriter } from './log-writer.js';

export interface LogCaptureOptions {
  /** The main thread's (read) view of the logs: numbering continues after its last line. */
  readonly store: LogStore;
  /** The same database's file: the writer thread opens its own connection to it. */
  readonly file: string;
  readonly events: EventBus;
  /** Retention by age and size, run by the writer thread on a timer (none if absent). */
  readonly retention?: RetentionSettings;
  /** Post waiting lines to the writer at least this often (default 100 ms)... */
  readonly flushIntervalMs?: number;
  /**
   * ...or as soon as this many wait (default 1,000): the most lines per message. The writer
   * commits them 250 to a transaction, so it holds the write lock a few ms at a time.
   */
  readonly batchLines?: number;
  /** Sustained lines per second one instance may log (default 2,000). */
  readonly linesPerSecond?: number;
  /** Lines one instance may log in a burst above the rate (default 10,000). */
  readonly burstLines?: number;
  /** Lines of one instance waiting for a flush, at most (default 5,000). */
  readonly maxQueuedPerInstance?: number;
  /** Longer lines are cut, with a note saying how much (default 8,192 characters). */
  readonly maxLineChars?: number;
  /** Called when a batch could not be written (its lines count as dropped) or the writer failed. */
  readonly onError?: (err: unknown) => void;
}

interface InstanceBudget {
  readonly service: string;
  readonly id: string;
  tokens: number;
  refilledAt: number;
  queued: number;
  droppedStdout: number;
  droppedStderr: number;
}

export type LogListener = (record: LogRecord) => void;

export class LogCapture {
  /** Lines written to the store since start. */
  stored = 0;
  /** Lines dropped (rate limit, full queue, failed write) since start. */
  dropped = 0;

  private readonly file: string;
  private readonly retention: RetentionSettings | undefined;
  private readonly events: EventBus;
  private readonly flushIntervalMs: number;
  private readonly batchLines: number;
  private readonly linesPerMs: number;
  private readonly burstLines: number;
  private readonly maxQueuedPerInstance: number;
  private readonly maxLineChars: number;
  private readonly onError: (err: unknown) => void;
  private readonly budgets = new Map<string, InstanceBudget>();
  private readonly withDrops = new Set<InstanceBudget>();
  private readonly listeners = new Set<LogListener>();
  private pending: LogRecord[] = [];
  /** The budget of each pending record, to give its queue slot back once committed. */
  private pendingBudgets: InstanceBudget[] = [];
  private nextSeq: number;
  private readonly lastSeq: () => number;
  private timer: NodeJS.Timeout | undefined;
  private writer: LogWriter | undefined;

  private readonly onOutput = (e: OutputLineEvent): void => {
    this.acceptLine(e.service, e.id, e.stream, e.line, e.at);
  };
  private readonly onLifecycle = (e: LifecycleEvent): void => {
    this.acceptEvent(e.service, e.id, `${e.kind}: ${e.message}`, e.at);
    // 'remove' is the last event of an instance: forget its budget so removed ones don't pile up.
    if (e.kind === 'remove') this.forget(e.instance, e.at);
  };

  constructor(options: LogCaptureOptions) {
    this.file = options.file;
    this.retention = options.retention;
    this.events = options.events;
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.batchLines = options.batchLines ?? 1_000;
    this.linesPerMs = (options.linesPerSecond ?? 2_000) / 1_000;
    this.burstLines = options.burstLines ?? 10_000;
    this.maxQueuedPerInstance = options.maxQueuedPerInstance ?? 5_000;
    this.maxLineChars = options.maxLineChars ?? 8_192;
    this.onError = options.onError ?? (() => {});
    this.lastSeq = () => options.store.lastSeq();
    this.nextSeq = this.lastSeq() + 1;
  }

  /** Starts the writer thread, subscribes to the bus and starts the post timer. */
  start(): void {
    if (this.timer !== undefined) return;
    // Read again here: in a take-over the previous server stores its last lines after this one is built.
    this.nextSeq = this.lastSeq() + 1;
    this.writer = new LogWriter({ file: this.file, retention: this.retention, onError: this.onError });
    this.events.on('output', this.onOutput);
    this.events.on('lifecycle', this.onLifecycle);
    this.timer = setInterval(() => this.post(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Unsubscribes, lets the writer commit whatever is still waiting, and stops it. */
  async close(): Promise<void> {
    this.events.off('output', this.onOutput);
    this.events.off('lifecycle', this.onLifecycle);
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    await this.writer?.close();
    this.writer = undefined;
  }

  /** Live feed of every record as it is accepted (before it is stored). Returns the unsubscribe. */
  follow(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One output line of an instance; cheap, never throws, never blocks on the store. */
  acceptLine(service: string, id: string, stream: 'stdout' | 'stderr', line: string, at: number): void {
    const budget = this.budgetOf(service, id, at);
    const elapsed = at - budget.refilledAt;
    if (elapsed > 0) {
      budget.tokens = Math.min(this.burstLines, budget.tokens + elapsed * this.linesPerMs);
      budget.refilledAt = at;
    }
    if (budget.tokens < 1 || budget.queued >= this.maxQueuedPerInstance) {
      if (stream === 'stdout') budget.droppedStdout += 1;
      else budget.droppedStderr += 1;
      this.withDrops.add(budget);
      this.dropped += 1;
      return;
    }
    budget.tokens -= 1;
    this.push(budget, stream, this.cut(line), at);
  }

  /** A lifecycle event line; not rate-limited (tenement itself writes these). */
  acceptEvent(service: string, id: string, line: string, at: number): void {
    this.push(this.budgetOf(service, id, at), 'event', line, at);
  }

  /**
   * Resolves once every line accepted before the call is committed (or counted as dropped), so a
   * reader's next query sees it all. Never rejects.
   */
  flush(): Promise<void> {
    this.post();
    return this.writer?.sync() ?? Promise.resolve();
  }

  private markDrops(): void {
    if (this.withDrops.size === 0) return;
    const now = Date.now();
    for (const budget of this.withDrops) this.emitDropMarkers(budget, now);
    this.withDrops.clear();
  }

  /** Hands everything waiting (and the drop markers due) to the writer, in batches. */
  private post(): void {
    this.markDrops();
    if (this.writer === undefined) return;
    while (this.pending.length > 0) this.postBatch(this.writer);
  }

  private postBatch(writer: LogWriter): void {
    const batch = this.pending.splice(0, this.batchLines);
    // Queue slots are given back only once the writer is done with the lines: what it has not
    // committed yet still counts against each instance, so a slow disk cannot grow memory.
    const budgets = this.pendingBudgets.splice(0, batch.length);
    writer.write(batch, (stored, error) => {
      for (const budget of budgets) budget.queued -= 1;
      this.stored += stored;
      this.dropped += budgets.length - stored;
      if (error !== undefined) this.onError(error);
    });
  }

  private forget(instance: string, at: number): void {
    const budget = this.budgets.get(instance);
    if (budget === undefined) return;
    this.emitDropMarkers(budget, at);
    this.withDrops.delete(budget);
    this.budgets.delete(instance);
  }

  private budgetOf(service: string, id: string, at: number): InstanceBudget {
    const key = formatInstanceName(service, id);
    let budget = this.budgets.get(key);
    if (budget === undefined) {
      budget = { service, id, tokens: this.burstLines, refilledAt: at, queued: 0, droppedStdout: 0, droppedStderr: 0 };
      this.budgets.set(key, budget);
    }
    return budget;
  }

  private push(budget: InstanceBudget, stream: LogStream, line: string, at: number): void {
    const record: LogRecord = { seq: this.nextSeq++, at, service: budget.service, id: budget.id, stream, line };
    this.pending.push(record);
    this.pendingBudgets.push(budget);
    budget.queued += 1;
    for (const listener of this.listeners) listener(record);
    if (this.pending.length >= this.batchLines && this.writer !== undefined) this.postBatch(this.writer);
  }

  private emitDropMarkers(budget: InstanceBudget, at: number): void {
    if (budget.droppedStdout > 0) this.push(budget, 'stdout', this.dropMarker(budget.droppedStdout), at);
    if (budget.droppedStderr > 0) this.push(budget, 'stderr', this.dropMarker(budget.droppedStderr), at);
    budget.droppedStdout = 0;
    budget.droppedStderr = 0;
  }

  private dropMarker(count: number): string {
    return `[tenement] ${count} lines dropped: over the log limit of ${Math.round(this.linesPerMs * 1_000)} lines/s`;
  }

  private cut(line: string): string {
    if (line.length <= this.maxLineChars) return line;
    return `${line.slice(0, this.maxLineChars)} [tenement] line cut: ${line.length - this.maxLineChars} more characters`;
  }
}
