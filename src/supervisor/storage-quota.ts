/**
 * storage_quota_mb: measures each watched instance's data dir in the background, one at a time,
 * and reports a crossing of 80 % (warning) and of 100 % (exceeded) once each per crossing.
 * @module
 */
import { measureDirBytes } from '../runtime/disk-usage.js';

/** The fraction of the quota at which a warning is given. */
export const WARN_FRACTION = 0.8;

export interface StorageQuotaOptions {
  /** Pause between two measuring passes (a pass measures every watched dir, one after another). */
  readonly intervalMs: number;
  readonly onWarn: (name: string, usedBytes: number, quotaBytes: number) => void;
  readonly onExceeded: (name: string, usedBytes: number, quotaBytes: number) => void;
  /** Every measurement, e.g. for a storage-usage metric. */
  readonly onMeasured?: (name: string, usedBytes: number, quotaBytes: number) => void;
}

interface Watched {
  readonly dir: string;
  readonly quotaBytes: number;
  level: 'ok' | 'warned' | 'exceeded';
}

export class StorageQuotaWatcher {
  readonly #options: StorageQuotaOptions;
  readonly #watched = new Map<string, Watched>();
  #timer: NodeJS.Timeout | undefined;
  #isClosed = false;

  constructor(options: StorageQuotaOptions) {
    this.#options = options;
  }

  /** Starts (or replaces) watching `name`'s data dir against `quotaMb`. */
  watch(name: string, dir: string, quotaMb: number): void {
    if (this.#isClosed) return;
    this.#watched.set(name, { dir, quotaBytes: quotaMb * 1024 * 1024, level: 'ok' });
    this.#schedule();
  }

  unwatch(name: string): void {
    this.#watched.delete(name);
  }

  close(): void {
    this.#isClosed = true;
    this.#watched.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The next pass starts only once this one is done, so measurements never overlap. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#isClosed) return;
    this.#timer = setTimeout(() => void this.#pass(), this.#options.intervalMs);
    // Measuring is never a reason to keep the server alive.
    this.#timer.unref();
  }

  async #pass(): Promise<void> {
    for (const [name, watched] of [...this.#watched]) {
      const usedBytes = await measureDirBytes(watched.dir).catch(() => undefined);
      // Unwatched (or re-watched with another quota) while we measured: not ours to report.
      if (usedBytes === undefined || this.#watched.get(name) !== watched) continue;
      this.#options.onMeasured?.(name, usedBytes, watched.quotaBytes);
      this.#report(name, watched, usedBytes);
    }
    this.#timer = undefined;
    if (this.#watched.size > 0) this.#schedule();
  }

  #report(name: string, watched: Watched, usedBytes: number): void {
    const { quotaBytes } = watched;
    const level = usedBytes >= quotaBytes ? 'exceeded' : usedBytes >= quotaBytes * WARN_FRACTION ? 'warned' : 'ok';
    const previous = watched.level;
    watched.level = level;
    if (level === 'warned' && previous === 'ok') this.#options.onWarn(name, usedBytes, quotaBytes);
    if (level === 'exceeded' && previous !== 'exceeded') {
      // Jumping from below 80 % straight past 100 % still passed the warning mark.
      if (previous === 'ok') this.#options.onWarn(name, usedBytes, quotaBytes);
      this.#options.onExceeded(name, usedBytes, quotaBytes);
    }
  }
}
