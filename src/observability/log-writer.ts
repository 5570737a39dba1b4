/**
 * The main thread's handle on the log writer worker (log-writer-worker.ts): starts it, posts
 * batches and sync requests, matches its in-order replies, and restarts it if it dies.
 * @module
 */
import { Worker } from 'node:worker_threads';
import type { LogRecord } from '../store/logs.js';
import { encodeBatch, HEARTBEAT_MS, transferablesOf, type WriterReply, type WriterRequest, type WriterSettings } from './log-batch.js';

/** Called once per batch: how many of its lines were stored (the rest were lost), and why not. */
export type BatchDone = (stored: number, error?: Error) => void;

export interface LogWriterOptions extends Omit<WriterSettings, 'heartbeat'> {
  /** Errors of the worker's background work (retention, checkpoints) and of the worker itself. */
  readonly onError?: (err: unknown) => void;
  /** Wait before starting a new worker after one died (default 1 s, doubling while it keeps dying). */
  readonly restartDelayMs?: number;
}

const MAX_RESTART_DELAY_MS = 30_000;

type Pending = (reply: { stored: number; error?: string }) => void;

export class LogWriter {
  private readonly settings: WriterSettings;
  private readonly onError: (err: unknown) => void;
  private readonly restartDelayMs: number;
  private worker: Worker | undefined;
  /** Callbacks of the requests sent to the current worker, oldest first (it replies in order). */
  private inFlight: Pending[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private nextRestartDelayMs: number;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  constructor(options: LogWriterOptions) {
    const heartbeat = new SharedArrayBuffer(4);
    this.settings = { file: options.file, heartbeat, retention: options.retention, checkpointIntervalMs: options.checkpointIntervalMs };
    this.onError = options.onError ?? (() => {});
    this.restartDelayMs = options.restartDelayMs ?? 1_000;
    this.nextRestartDelayMs = this.restartDelayMs;
    const beat = new Int32Array(heartbeat);
    this.heartbeatTimer = setInterval(() => {
      Atomics.add(beat, 0, 1);
      Atomics.notify(beat, 0);
    }, HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    this.start();
  }

  /** Posts a batch; `done` is called when it is committed, or failed, or the worker died first. */
  write(records: readonly LogRecord[], done: BatchDone): void {
    const batch = encodeBatch(records);
    if (!this.send({ type: 'write', batch }, (r) => done(r.stored, r.error === undefined ? undefined : new Error(r.error)), transferablesOf(batch))) {
      done(0, new Error('the log writer is not running'));
    }
  }

  /** Resolves once every batch written before this call is committed (or lost). */
  sync(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.send({ type: 'sync' }, () => resolve())) resolve();
    });
  }

  /** Lets the worker commit what it has, stops its timers, closes its connection and ends it. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (worker !== undefined) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      await new Promise<void>((resolve) => {
        if (!this.send({ type: 'close' }, () => resolve())) resolve();
      });
      await exited;
    }
    clearInterval(this.heartbeatTimer);
  }

  private send(request: WriterRequest, onReply: Pending, transfer: ArrayBuffer[] = []): boolean {
    if (this.worker === undefined) return false;
    this.inFlight.push(onReply);
    this.worker.postMessage(request, transfer);
    return true;
  }

  private start(): void {
    this.restartTimer = undefined;
    const worker = spawnWorker(this.settings);
    this.worker = worker;
    worker.on('message', (reply: WriterReply) => {
      if (reply.type === 'error') {
        this.onError(new Error(`log writer: ${reply.error}`));
        return;
      }
      this.nextRestartDelayMs = this.restartDelayMs;
      this.inFlight.shift()?.(reply);
    });
    worker.on('error', (err) => this.onError(err));
    worker.once('exit', (code) => {
      this.worker = undefined;
      const lost = this.inFlight;
      this.inFlight = [];
      for (const pending of lost) pending({ stored: 0, error: `the log writer stopped (exit code ${code})` });
      if (this.closing !== undefined) return;
      this.onError(new Error(`the log writer stopped unexpectedly (exit code ${code}); restarting it`));
      this.restartTimer = setTimeout(() => this.start(), this.nextRestartDelayMs);
      this.restartTimer.unref();
      this.nextRestartDelayMs = Math.min(this.nextRestartDelayMs * 2, MAX_RESTART_DELAY_MS);
    });
  }
}

function spawnWorker(settings: WriterSettings): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./log-writer-worker.js', here), { workerData: settings });
  // From source under tsx (tests, benches): Node 20 does not apply the parent's `--import tsx`
  // hooks to a worker's entry module, so the worker starts from a line of JS that registers tsx
  // and then imports the TypeScript entry.
  const entry = new URL('./log-writer-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: settings, execArgv: [] });
}
