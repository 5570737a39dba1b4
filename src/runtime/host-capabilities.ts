/**
 * What this host can give instances: which isolation levels work and which cgroup limits exist,
 * found by really trying (the runtimes' own checks), printed by `ten serve` at start.
 * @module
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Isolation } from '../config/types.js';
import { CgroupLimits } from './cgroups.js';
import { NamespaceRuntime } from './namespace.js';
import type { Runtime } from './runtime.js';
import { SandboxRuntime } from './sandbox.js';

export interface IsolationCapability {
  readonly available: boolean;
  /** Why not, and how to get it (the message a spawn at this level would fail with). */
  readonly reason?: string;
}

export interface HostCapabilities {
  readonly isolation: Readonly<Record<Isolation, IsolationCapability>>;
  readonly limits: {
    readonly cgroup: 'v2' | 'v1' | null;
    readonly memory: boolean;
    readonly cpu: boolean;
    readonly pids: boolean;
    /** Instances can be frozen (freeze_after). */
    readonly freeze: boolean;
  };
}

export interface DetectOptions {
  /** The runtimes the server will use (their checks are cached, so nothing is probed twice). */
  readonly runtimes?: Partial<Record<Isolation, Runtime>>;
  readonly limits?: CgroupLimits;
}

export async function detectCapabilities(options: DetectOptions = {}): Promise<HostCapabilities> {
  const scratch = join(tmpdir(), 'tenement-capabilities');
  const runtimes: Record<Exclude<Isolation, 'process'>, Runtime> = {
    namespace: options.runtimes?.namespace ?? new NamespaceRuntime({ dataRoot: scratch }),
    sandbox: options.runtimes?.sandbox ?? new SandboxRuntime({ stateDir: scratch, dataRoot: scratch }),
  };
  const noLimits = { memoryLimitMb: undefined, cpuShares: undefined };
  const [namespace, sandbox, cgroups] = await Promise.all([
    capabilityOf(runtimes.namespace.check(noLimits)),
    capabilityOf(runtimes.sandbox.check(noLimits)),
    (options.limits ?? new CgroupLimits()).detect(),
  ]);
  return {
    isolation: { process: { available: true }, namespace, sandbox },
    limits: {
      cgroup: cgroups.version,
      memory: cgroups.controllers.has('memory'),
      cpu: cgroups.controllers.has('cpu'),
      pids: cgroups.controllers.has('pids'),
      freeze: cgroups.freezeMissing === undefined,
    },
  };
}

async function capabilityOf(check: Promise<void>): Promise<IsolationCapability> {
  try {
    await check;
    return { available: true };
  } catch (err) {
    return { available: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Two lines: the isolation levels, then the limits. */
export function formatCapabilities(capabilities: HostCapabilities): string {
  const levels = (Object.entries(capabilities.isolation) as Array<[Isolation, IsolationCapability]>)
    .map(([level, { available, reason }]) => (available ? level : `${level} unavailable (${reason ?? 'unknown reason'})`));
  const { cgroup, ...controllers } = capabilities.limits;
  const offered = Object.entries(controllers).filter(([, has]) => has).map(([name]) => name);
  const missing = Object.entries(controllers).filter(([, has]) => !has).map(([name]) => name);
  const limits = cgroup === null || offered.length === 0
    ? 'limits: none (no usable cgroup controllers; memory_limit_mb, cpu_shares and freeze_after will be refused)'
    : `limits: cgroup ${cgroup} (${offered.join(', ')}${missing.length > 0 ? `; no ${missing.join(', ')}` : ''})`;
  return `isolation: ${levels.join(', ')}\n${limits}`;
}
