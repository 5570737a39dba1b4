/**
 * Waiting for an instance that cannot take a request right now: wake it (idle, stopped) or thaw
 * it (frozen) through the supervisor's single-flight ensureReady, or wait for the restart the
 * supervisor is doing, up to a deadline. Off the hot path: only requests to a non-running
 * instance come here.
 * @module
 */
import { requestOutcome } from '../core/lifecycle.js';
import type { SupervisorApi } from '../supervisor/types.js';
import type { InstanceRoute } from './route-table.js';

export type WaitOutcome = 'ready' | 'unavailable' | 'cancelled';

/** Upper bound on one wait step, so a crash the supervisor has not noticed yet is retried. */
const STEP_MS = 100;

export async function waitUntilReachable(
  route: InstanceRoute,
  supervisor: SupervisorApi,
  deadline: number,
  isCancelled: () => boolean,
): Promise<WaitOutcome> {
  for (;;) {
    if (isCancelled()) return 'cancelled';
    if (route.isReachable) return 'ready';
    const outcome = requestOutcome(route.handle.state);
    if (outcome === 'refuse') return 'unavailable';
    const remaining = deadline - Date.now();
    if (remaining <= 0) return 'unavailable';
    if (outcome === 'wake' || outcome === 'thaw' || outcome === 'join-start') {
      // ensureReady is single-flight and bounded by the service's startup_timeout itself.
      const woke = await supervisor.ensureReady(route.handle).then(() => true, () => false);
      if (!woke && !route.isReachable) return 'unavailable';
    } else {
      // A restart pending, or still "running" with a dead process not yet noticed.
      await route.nextStateChange(Math.min(remaining, STEP_MS));
    }
  }
}
