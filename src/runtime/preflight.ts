/**
 * Checks the namespace and sandbox runtimes make before starting anything: the tool they wrap
 * exists, and the limits asked for can be given.
 * @module
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { TenementError } from '../core/errors.js';
import type { LimitRequest, LimitsProvider } from './runtime.js';

/** Limits asked for without a provider, or that the provider cannot give, are refused up front. */
export async function checkLimits(limits: LimitsProvider | undefined, spec: LimitRequest): Promise<void> {
  const asked = [
    spec.memoryLimitMb !== undefined && 'memory_limit_mb', spec.cpuShares !== undefined && 'cpu_shares',
    spec.pidsLimit !== undefined && 'pids_limit', spec.freezable === true && 'freeze_after',
  ]
    .filter((key): key is string => key !== false);
  if (asked.length === 0) return;
  if (limits === undefined) {
    throw new TenementError('isolation_unavailable', `${asked.join(' and ')} ${asked.length > 1 ? 'need' : 'needs'} cgroups, which this server runs without`, {
      hint: 'run tenement on a Linux host with cgroup v2 (or v1) mounted and writable, or drop them',
    });
  }
  await limits.check?.(spec);
}

/** `command` as execvp would find it on this process's PATH, if it is an executable file. */
export async function findExecutable(command: string): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [resolve(command)]
    : (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next PATH entry
    }
  }
  return undefined;
}
