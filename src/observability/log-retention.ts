/**
 * Log retention in the background: lines older than `log_retention_days` are deleted, then the
 * oldest lines while the store is over `log_retention_mb`. It runs in the log writer thread; deletes
 * go in small transactions with a yield between them, so batches of new lines (and the main
 * connection's writes) get the write lock in between while a big backlog is pruned.
 * @module
 */
import type { LogStore } from '../store/logs.js';

export interface LogRetentionOptions {
  readonly store: LogStore;
  /** `log_retention_days` (fractions allowed). */
  readonly days: number;
  /** `log_retention_mb` (fractions allowed). */
  readonly mb: number;
  /** How often to check (default 60 s). */
  readonly intervalMs?: number;
  /** Rows deleted per transaction (default 250: each costs about as much as an insert). */
  readonly chunkRows?: number;
  /** Called before each write transaction (the writer thread stands aside for the main thread there). */
  readonly beforeWrite?: () => void;
  readonly onError?: (err: unknown) => void;
}

export interface RetentionResult {
  readonly deletedByAge: number;
  readonly deletedBySize: number;
}

/** Prune to this share of the limit, so the next few batches don't trigger another prune at once. */
const SIZE_TARGET = 0.9;
/** Index merging after a prune, in bounded steps (~2 MB each) with a yield between. */
const MERGE_STEP_PAGES = 500;
const MAX_MERGE_STEPS = 100;

export class LogRetention {
  private readonly store: LogStore;
  private readonly maxAgeMs: number;
  private readonly maxBytes: number;
  private readonly intervalMs: number;
  private readonly chunkRows: number;
  private readonly beforeWrite: () => void;
  private readonly onError: (err: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionResult> | undefined;
  private stopped = false;

  constructor(options: LogRetentionOptions) {
    this.store = options.store;
    this.maxAgeMs = options.days * 86_400_000;
    this.maxBytes = options.mb * 1_048_576;
    this.intervalMs = options.intervalMs ?? 60_000;
    this.chunkRows = options.chunkRows ?? 250;
    this.beforeWrite = options.beforeWrite ?? (() => {});
    this.onError = options.onError ?? (() => {});
  }

  start(): void {
    if (this.timer !== undefined) return;
    const tick = (): void => { this.runOnce().catch(this.onError); };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; a pass under way stops after its current chunk. Resolves once it has. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** One pass (a pass already under way is awaited instead of doubled). */
  runOnce(now = Date.now()): Promise<RetentionResult> {
    this.running ??= this.prune(now).finally(() => { this.running = undefined; });
    return this.running;
  }

  private async prune(now: number): Promise<RetentionResult> {
    let deletedByAge = 0;
    for (;;) {
      this.beforeWrite();
      const n = this.store.deleteOlderThan(now - this.maxAgeMs, this.chunkRows);
      deletedByAge += n;
      if (n < this.chunkRows || this.stopped) break;
      await yieldToEventLoop();
    }
    let deletedBySize = 0;
    const used = this.store.usedBytes();
    if (used > this.maxBytes && !this.stopped) {
      // Page counts only fall once FTS folds its delete markers in, so re-measuring after each
      // chunk would over-delete: work out the share of rows to drop once, from this measure.
      const rows = this.store.count();
      let toDelete = Math.ceil(rows * (1 - (this.maxBytes * SIZE_TARGET) / used));
      while (toDelete > 0 && !this.stopped) {
        this.beforeWrite();
        const n = this.store.deleteOldest(Math.min(this.chunkRows, toDelete));
        if (n === 0) break;
        deletedBySize += n;
        toDelete -= n;
        await yieldToEventLoop();
      }
    }
    if (deletedByAge + deletedBySize > 0) {
      for (let i = 0; i < MAX_MERGE_STEPS && !this.stopped; i++) {
        this.beforeWrite();
        if (!this.store.compactIndex(MERGE_STEP_PAGES)) break;
        await yieldToEventLoop();
      }
    }
    return { deletedByAge, deletedBySize };
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
