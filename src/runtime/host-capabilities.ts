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

/** What `ten serve` does to keep instances apart beyond the isolation level, as it found the host. */
export interface Protections {
  /** Own uid per instance (tenement runs as root), or undefined when they share tenement's user. */
  readonly uidRange: readonly [number, number] | undefined;
  /** Every instance in its own cgroup (killed whole at a stop). */
  readonly cgroupPerInstance: boolean;
  /** The default pids limit when the pids controller is there. */
  readonly pidsLimit: number | undefined;
  /** The nftables table, whether it also fences sandboxes, or why there is none. */
  readonly portFence: { readonly table: string; readonly ports: readonly [number, number]; readonly sandboxes: boolean } | { readonly off: string };
}

/** Three lines: tenants' identity and privileges, their cgroups, the port fence. */
export function formatProtections(p: Protections): string {
  const tenants = p.uidRange === undefined
    ? 'tenants: share tenement\'s user (it is not root), so they can read each other\'s files and tenement\'s; no_new_privs'
    : `tenants: own uid each (from ${p.uidRange[0]}-${p.uidRange[1]}), no capabilities, no_new_privs`;
  const cgroups = !p.cgroupPerInstance
    ? 'cgroups: none (a stop reaches only the process group; no pids limit)'
    : `cgroups: one per instance (a stop kills all of it)${p.pidsLimit === undefined ? '; no pids controller, so no pids limit' : `, pids limit ${p.pidsLimit} by default`}`;
  const fence = 'off' in p.portFence
    ? `port fence: off (${p.portFence.off})`
    : `port fence: nftables table inet ${p.portFence.table}: only tenement connects to ports ${p.portFence.ports[0]}-${p.portFence.ports[1]}${p.portFence.sandboxes ? '' : ' (not from sandboxes: no cgroup2 mounted under /sys/fs/cgroup)'}`;
  return `${tenants}\n${cgroups}\n${fence}`;
}
