/**
 * Log capture: instance output lines and lifecycle events from the EventBus become numbered log
 * records, written to the store in batches (one transaction per batch) and fed live to followers.
 * Each instance has a rate limit and a bounded queue; what is over them is dropped and counted,
 * and a "N lines dropped" line takes its place.
 * @module
 */
import type { EventBus, LifecycleEvent, OutputLineEvent } from './events.js';
import type { LogRecord, LogStore, LogStream } from '../store/logs.js';

export interface LogCaptureOptions {
  readonly store: LogStore;
  readonly events: EventBus;
  /** Flush at least this often (default 100 ms)... */
  readonly flushIntervalMs?: number;
  /**
   * ...or as soon as this many lines wait (default 250); also the most lines per transaction.
   * Writes run on the event loop (~25 µs a line with FTS), so batches stay small and the loop
   * is yielded between them: a flush holds the proxy up for a few ms, not tens.
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
  /** Called when a batch could not be written (its lines count as dropped). */
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

  private readonly store: LogStore;
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
  /** The budget of each pending record, to give its queue slot back once written. */
  private pendingBudgets: InstanceBudget[] = [];
  private nextSeq: number;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;

  private readonly onOutput = (e: OutputLineEvent): void => {
    this.acceptLine(e.service, e.id, e.stream, e.line, e.at);
  };
  private readonly onLifecycle = (e: LifecycleEvent): void => {
    this.acceptEvent(e.service, e.id, `${e.kind}: ${e.message}`, e.at);
    // 'remove' is the last event of an instance: forget its budget so removed ones don't pile up.
    if (e.kind === 'remove') this.forget(e.instance, e.at);
  };

  constructor(options: LogCaptureOptions) {
    this.store = options.store;
    this.events = options.events;
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.batchLines = options.batchLines ?? 250;
    this.linesPerMs = (options.linesPerSecond ?? 2_000) / 1_000;
    this.burstLines = options.burstLines ?? 10_000;
    this.maxQueuedPerInstance = options.maxQueuedPerInstance ?? 5_000;
    this.maxLineChars = options.maxLineChars ?? 8_192;
    this.onError = options.onError ?? (() => {});
    this.nextSeq = options.store.lastSeq() + 1;
  }

  /** Subscribes to the bus and starts the flush timer. */
  start(): void {
    if (this.timer !== undefined) return;
    this.events.on('output', this.onOutput);
    this.events.on('lifecycle', this.onLifecycle);
    this.timer = setInterval(() => this.scheduleDrain(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Unsubscribes and writes whatever is still waiting (async for the shutdown sequence; the write is synchronous). */
  async close(): Promise<void> {
    this.events.off('output', this.onOutput);
    this.events.off('lifecycle', this.onLifecycle);
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
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

  /** Writes everything waiting now, one transaction per batch (for readers that must see it all). */
  flush(): void {
    this.markDrops();
    while (this.pending.length > 0) this.writeBatch();
  }

  private markDrops(): void {
    if (this.withDrops.size === 0) return;
    const now = Date.now();
    for (const budget of this.withDrops) this.emitDropMarkers(budget, now);
    this.withDrops.clear();
  }

  /** Background writing: one batch per turn of the event loop until nothing waits. */
  private scheduleDrain(): void {
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => this.drainStep());
  }

  private drainStep(): void {
    this.markDrops();
    if (this.pending.length > 0) this.writeBatch();
    if (this.pending.length > 0) setImmediate(() => this.drainStep());
    else this.draining = false;
  }

  private writeBatch(): void {
    const batch = this.pending.splice(0, this.batchLines);
    for (const budget of this.pendingBudgets.splice(0, batch.length)) budget.queued -= 1;
    try {
      this.store.insert(batch);
      this.stored += batch.length;
    } catch (err) {
      this.dropped += batch.length;
      this.onError(err);
    }
  }

  private forget(instance: string, at: number): void {
    const budget = this.budgets.get(instance);
    if (budget === undefined) return;
    this.emitDropMarkers(budget, at);
    this.withDrops.delete(budget);
    this.budgets.delete(instance);
  }

  private budgetOf(service: string, id: string, at: number): InstanceBudget {
    const key = `${service}:${id}`;
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
    if (this.pending.length >= this.batchLines) this.scheduleDrain();
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
