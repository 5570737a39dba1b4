/**
 * The error of a start that a stop overtook.
 * @module
 */
import { TenementError } from '../core/errors.js';

export function stoppedWhileStarting(name: string): TenementError {
  return new TenementError('unavailable', `${name} was stopped while starting`);
}
