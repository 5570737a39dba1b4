/**
 * How an instance's process ending is put in words, for lifecycle events, logs and errors.
 * @module
 */
import { TenementError } from '../core/errors.js';
import type { ExitInfo } from '../runtime/runtime.js';

export function describeExit(info: ExitInfo): string {
  if (info.oomKilled) return 'was killed for exceeding its memory limit (OOM)';
  if (info.signal !== null) return `was killed by ${info.signal}`;
  // An adopted process's status went to its real parent, the previous server.
  if (info.code === null) return 'exited';
  return `exited with code ${info.code}`;
}

export function stoppedWhileStarting(name: string): TenementError {
  return new TenementError('unavailable', `${name} was stopped while starting`);
}
