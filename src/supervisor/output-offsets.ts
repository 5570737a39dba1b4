/**
 * Records, about once a second, how far each instance's output files have been read, so that a
 * server that crashes loses no line: an offset is written only after every line read before it is
 * committed to the log store. After a crash the next server re-reads from the last recorded
 * offset, so at most the last second's lines may be stored twice, never missed.
 * @module
 */
import type { InstanceStore, OutputOffsetsRow } from '../store/instances.js';

export interface OutputOffsetsSaverDeps {
  readonly supervisor: { outputOffsets(): OutputOffsetsRow[] };
  readonly store: Pick<InstanceStore, 'setOutputOffsets'>;
  /** The log capture: resolves once every line accepted before the call is committed. */
  readonly capture: { flush(): Promise<void> };
  readonly onError: (err: unknown) => void;
  readonly everyMs?: number;
}

export class OutputOffsetsSaver {
  private readonly deps: OutputOffsetsSaverDeps;
  private readonly timer: NodeJS.Timeout;
  private saved = new Map<string, string>();
  private inflight: Promise<void> | undefined;

  constructor(deps: OutputOffsetsSaverDeps) {
    this.deps = deps;
    this.timer = setInterval(() => {
      this.inflight ??= this.save().finally(() => { this.inflight = undefined; });
    }, deps.everyMs ?? 1000);
    this.timer.unref();
  }

  /** Stops saving; resolves once a save under way is done (so it cannot overwrite a later one). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.inflight;
  }

  private async save(): Promise<void> {
    try {
      const snapshot = this.deps.supervisor.outputOffsets().filter((r) => this.saved.get(`${r.service}:${r.id}`) !== `${r.stdout}/${r.stderr}`);
      if (snapshot.length === 0) return;
      await this.deps.capture.flush();
      this.deps.store.setOutputOffsets(snapshot);
      for (const r of snapshot) this.saved.set(`${r.service}:${r.id}`, `${r.stdout}/${r.stderr}`);
    } catch (err) {
      this.deps.onError(err);
    }
  }
}
