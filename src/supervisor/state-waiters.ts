/**
 * Callers waiting for an instance to be running again, each with its own deadline: settled all
 * at once by the instance's next state change (running, or one without a process).
 * @module
 */
import { TenementError } from '../core/errors.js';

interface StateWaiter {
  resolve(): void;
  reject(err: TenementError): void;
}

export class StateWaiters {
  private waiters: StateWaiter[] = [];

  /** Resolves on resolveAll, rejects on rejectAll or with `unavailable` after `timeoutMs`. */
  wait(name: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: StateWaiter = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== entry);
        reject(new TenementError('unavailable', `${name} did not come back within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiters.push(entry);
    });
  }

  resolveAll(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  rejectAll(err: TenementError): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
