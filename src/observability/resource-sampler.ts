/**
 * Per-instance resource use, sampled in the background (never per scrape): memory and CPU seconds
 * of each instance's cgroup (or of its process group, from /proc, without one), and bytes used by
 * its data dir.
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import { instanceDataDir } from '../config/instance-env.js';
import { measureDirBytes } from '../runtime/disk-usage.js';
import { parseProcStat, type ProcStat } from '../runtime/proc-stat.js';
import type { InstanceInfo, SupervisorApi } from '../supervisor/types.js';

export interface InstanceUsage {
  readonly service: string;
  readonly id: string;
  /** The cgroup's memory, else RSS summed over the process group; 0 without a process. */
  memoryBytes: number;
  /** user + system CPU of the group, children reaped by it included; never goes down. */
  cpuSeconds: number;
  /** Bytes allocated to the instance's data dir at the last storage walk (as `du` and storage_quota_mb count). */
  storageBytes: number;
  /** Leader pid the CPU total belongs to: a new process starts a new total. */
  pid: number | null;
}

export interface ResourceSamplerOptions {
  /** Instances to sample (`list()`), and the data dir whose `{service}/{id}` folders are measured. */
  readonly supervisor: Pick<SupervisorApi, 'list' | 'config' | 'events'> & Partial<Pick<SupervisorApi, 'resourceUsage'>>;
  /** /proc sampling period (default 5 s). */
  readonly intervalMs?: number;
  /** Storage walk period (default 60 s); walking big trees often would cost more than it tells. */
  readonly storageIntervalMs?: number;
}

/** USER_HZ: /proc reports CPU in these ticks; 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

interface GroupSample {
  rssBytes: number;
  cpuTicks: number;
}

export class ResourceSampler {
  private readonly list: () => InstanceInfo[];
  private readonly cgroupUsage: SupervisorApi['resourceUsage'] | undefined;
  private readonly dataDir: string;
  private readonly intervalMs: number;
  private readonly storageIntervalMs: number;
  private readonly usageByInstance = new Map<string, InstanceUsage>();
  private timer: NodeJS.Timeout | undefined;
  private lastStorageWalk = 0;
  private running: Promise<void> | undefined;

  constructor(options: ResourceSamplerOptions) {
    const supervisor = options.supervisor;
    this.list = () => supervisor.list();
    this.cgroupUsage = supervisor.resourceUsage?.bind(supervisor);
    this.dataDir = supervisor.config.settings.dataDir;
    // A removed instance's samples go at once, not at the next pass, so its series disappear.
    supervisor.events.on('state', (e) => {
      if (e.to === 'gone') this.usageByInstance.delete(e.instance);
    });
    this.intervalMs = options.intervalMs ?? 5_000;
    this.storageIntervalMs = options.storageIntervalMs ?? 60_000;
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last sample of one instance (`service:id`), if it was sampled since it was registered. */
  usage(instance: string): InstanceUsage | undefined {
    return this.usageByInstance.get(instance);
  }

  all(): IterableIterator<InstanceUsage> {
    return this.usageByInstance.values();
  }

  /** Takes one sample now (a tick already under way is awaited instead of doubled). */
  sample(): Promise<void> {
    this.running ??= this.sampleNow().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async sampleNow(): Promise<void> {
    const infos = this.list();
    const groups = await readGroups(new Set(infos.flatMap((i) => (i.pid === null ? [] : [i.pid]))));
    const walkStorage = Date.now() - this.lastStorageWalk >= this.storageIntervalMs;
    if (walkStorage) this.lastStorageWalk = Date.now();
    const seen = new Set<string>();
    for (const info of infos) {
      seen.add(info.instance);
      let usage = this.usageByInstance.get(info.instance);
      if (usage === undefined) {
        usage = { service: info.service, id: info.id, memoryBytes: 0, cpuSeconds: 0, storageBytes: 0, pid: null };
        this.usageByInstance.set(info.instance, usage);
      }
      const group = info.pid === null ? undefined : groups.get(info.pid);
      // The instance's cgroup counts everything it started (setsid descendants, gVisor's
      // processes too); /proc's process group is the fallback for what it cannot tell.
      const cgroup = info.pid === null ? undefined : await this.cgroupUsage?.(info.service, info.id);
      if (usage.pid !== info.pid) usage.cpuSeconds = 0;
      usage.pid = info.pid;
      usage.memoryBytes = cgroup?.memoryBytes ?? group?.rssBytes ?? 0;
      const cpuSeconds = cgroup?.cpuSeconds ?? (group === undefined ? undefined : group.cpuTicks / TICKS_PER_SECOND);
      // A member that exits unreaped by the group takes its CPU time with it; keep the total monotonic.
      if (cpuSeconds !== undefined) usage.cpuSeconds = Math.max(usage.cpuSeconds, cpuSeconds);
      if (walkStorage) usage.storageBytes = await measureDirBytes(instanceDataDir({ dataDir: this.dataDir }, info.service, info.id));
    }
    for (const key of this.usageByInstance.keys()) if (!seen.has(key)) this.usageByInstance.delete(key);
  }
}

/** RSS pages and CPU ticks per process group, for the groups asked about; one pass over /proc. */
async function readGroups(pgids: ReadonlySet<number>): Promise<Map<number, GroupSample>> {
  const groups = new Map<number, GroupSample>();
  if (pgids.size === 0) return groups;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return groups;
  }
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    let stat: ProcStat | undefined;
    try {
      stat = parseProcStat(await readFile(`/proc/${entry}/stat`, 'latin1'));
    } catch {
      continue; // exited between readdir and read
    }
    if (stat === undefined || !pgids.has(stat.pgrp) || stat.state === 'Z') continue;
    const group = groups.get(stat.pgrp) ?? { rssBytes: 0, cpuTicks: 0 };
    group.cpuTicks += stat.cpuTicks;
    group.rssBytes += await readRssBytes(entry);
    groups.set(stat.pgrp, group);
  }
  return groups;
}

/** VmRSS from /proc/PID/status (in kB there, whatever the page size); 0 if gone. */
async function readRssBytes(pid: string): Promise<number> {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'latin1'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}
