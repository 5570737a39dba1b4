/**
 * Freezing and thawing one process's cgroup, one operation at a time: a thaw asked for while a
 * freeze is under way runs right after it, so the group never ends up frozen by a stale request.
 * @module
 */
import type { AppliedLimits } from '../runtime/runtime.js';

export class CgroupFreezer {
  private readonly cgroup: AppliedLimits;
  private queue: Promise<unknown> = Promise.resolve();
  /** The last operation that completed left the group frozen. */
  isFrozen: boolean;

  /** `isFrozen`: the group is frozen already (a previous server froze it). */
  constructor(cgroup: AppliedLimits, isFrozen = false) {
    this.cgroup = cgroup;
    this.isFrozen = isFrozen;
  }

  /** Rejects (and leaves the group running) if the kernel does not freeze it. */
  freeze(): Promise<void> {
    return this.enqueue(async () => {
      await this.cgroup.freeze();
      this.isFrozen = true;
    });
  }

  thaw(): Promise<void> {
    return this.enqueue(async () => {
      if (!this.isFrozen) return;
      await this.cgroup.thaw();
      this.isFrozen = false;
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
