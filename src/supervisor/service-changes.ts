/**
 * One change under way per service: a tenant rollout and a canary deploy both judge the service's
 * traffic and move its instances or weights, so running both at once would make each judge the
 * other's effect. Each engine answers what it has under way; each start asks the others.
 * @module
 */
import { TenementError } from '../core/errors.js';

export interface ServiceChanges {
  /** A short description of the change under way on `service` (`the rollout of notes`), or undefined. */
  changeInProgress(service: string): string | undefined;
}

/** Refuses with `conflict` while another engine has a change under way on `service`. */
export function refuseWhileChanging(engines: readonly ServiceChanges[], self: ServiceChanges, service: string): void {
  for (const engine of engines) {
    if (engine === self) continue;
    const busy = engine.changeInProgress(service);
    if (busy !== undefined) {
      throw new TenementError('conflict', `${busy} is in progress: one change at a time per service`, {
        hint: 'wait for it to finish, or abort it first',
      });
    }
  }
}
