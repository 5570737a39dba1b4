/**
 * Checks the namespace and sandbox runtimes make before starting anything: the tool they wrap
 * exists, and the limits asked for can be given.
 * @module
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { TenementError } from '../core/errors.js';
import type { LimitsProvider, LimitsSpec } from './runtime.js';

/** Limits asked for without a provider, or that the provider cannot give, are refused up front. */
export async function checkLimits(limits: LimitsProvider | undefined, spec: LimitsSpec): Promise<void> {
  if (spec.memoryLimitMb === undefined && spec.cpuShares === undefined && spec.pidsLimit === undefined) return;
  if (limits === undefined) {
    throw new TenementError('isolation_unavailable', 'memory_limit_mb, cpu_shares and pids_limit need cgroups, which this server runs without', {
      hint: 'run tenement on a Linux host with cgroup v2 (or v1) mounted and writable, or drop the limits',
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
