/**
 * The `sandbox` isolation level: each instance runs under gVisor (`runsc`) from an OCI bundle
 * written per instance: host network, as its tenant user without capabilities, on a root built
 * from what programs need (sandbox-root.ts), its own DATA_DIR the only writable host folder.
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TenementError } from '../core/errors.js';
import { parseInstanceName } from '../core/names.js';
import { checkLimits, findExecutable } from './preflight.js';
import { adoptProcessGroup } from './adopt.js';
import { reapOrphan, startProcessGroup } from './process.js';
import type { Adoption, ExitInfo, LimitRequest, LimitsProvider, Orphan, RunningProcess, Runtime, SpawnSpec } from './runtime.js';
import { sandboxRoot, type OciMount, type SandboxView } from './sandbox-root.js';

const run = promisify(execFile);

/** How long runsc kill/delete/list may take before we stop waiting for them. */
const RUNSC_COMMAND_TIMEOUT_MS = 10_000;
/** After `runsc kill KILL`, how long the container gets to be gone before it is force-deleted. */
const KILL_GRACE_MS = 2000;
const CONTAINER_PREFIX = 'tenement.';

export interface SandboxRuntimeOptions {
  /** Holds runsc's state (`runsc/`) and the per-instance OCI bundles (`bundles/`). */
  readonly stateDir: string;
  /** tenement's data dir: hidden from every instance except for the instance's own DATA_DIR. */
  readonly dataRoot: string;
  readonly limits?: LimitsProvider;
  /** Files never shown to an instance even where a folder it sees holds them: tenement.toml. */
  readonly hiddenFiles?: readonly string[];
  /** gVisor's runsc; default `runsc` on PATH. */
  readonly runscPath?: string;
}

/**
 * The container of `service:id`. Names are DNS labels, which never contain '.', so the id is
 * unique per instance and never collides with another instance's (runsc accepts [\w.+-]).
 */
export function containerIdOf(instance: string): string {
  const { service, id } = parseInstanceName(instance);
  return `${CONTAINER_PREFIX}${service}.${id}`;
}

export class SandboxRuntime implements Runtime {
  readonly isolation = 'sandbox' as const;
  readonly #stateDir: string;
  readonly #view: SandboxView;
  readonly #limits: LimitsProvider | undefined;
  readonly #runscOption: string;
  #probe: Promise<string> | undefined;
  #leftoversCleaned: Promise<unknown> | undefined;
  /** Containers this runtime started or adopted and has not deleted for sure (running, or a failed delete). */
  readonly #notDeleted = new Set<string>();
  /** Containers of adopted sandboxes (a previous server's, running on here). */
  readonly #adopted = new Set<string>();

  constructor(options: SandboxRuntimeOptions) {
    this.#stateDir = resolve(options.stateDir);
    this.#view = { dataRoot: resolve(options.dataRoot), hiddenFiles: (options.hiddenFiles ?? []).map((file) => resolve(file)) };
    this.#limits = options.limits;
    this.#runscOption = options.runscPath ?? 'runsc';
  }

  async check(spec: LimitRequest): Promise<void> {
    await this.#runscPath();
    await checkLimits(this.#limits, spec);
  }

  async start(spec: SpawnSpec): Promise<RunningProcess> {
    const runsc = await this.#runscPath();
    await checkLimits(this.#limits, spec);
    // Containers in our runsc root that this runtime did not start are a crashed server's.
    this.#leftoversCleaned ??= this.cleanLeftovers();
    await this.#leftoversCleaned;
    const containerId = containerIdOf(spec.instance);
    // A container of the same name can only be a remnant of this instance's last run, if its
    // delete failed: asking runsc on every start cost a whole runsc process (10 to 40 ms).
    if (this.#notDeleted.has(containerId)) await this.#deleteContainer(containerId);
    this.#notDeleted.add(containerId);
    const bundle = join(this.#stateDir, 'bundles', containerId);
    const release = async (): Promise<void> => {
      await this.#deleteContainer(containerId);
      await rm(bundle, { recursive: true, force: true });
    };
    let limits;
    try {
      // The cgroups first: the warm-up of the cgroup2 join they start runs while the bundle is written.
      limits = await this.#limits?.apply(spec);
      await rm(bundle, { recursive: true, force: true });
      await mkdir(bundle, { recursive: true, mode: 0o700 });
      const rootfs = join(this.#stateDir, 'rootfs');
      const empty = join(this.#stateDir, 'empty');
      const mounts = sandboxRoot(rootfs, empty, spec, this.#view);
      await writeFile(join(bundle, 'config.json'), JSON.stringify(bundleConfig(spec, rootfs, mounts, empty)), { mode: 0o600 });
    } catch (err) {
      await release();
      await limits?.release();
      throw err;
    }
    // Attached (no --detach): the app's stdout/stderr are runsc's, captured like any instance.
    // --ignore-cgroups: runsc would otherwise move the sandbox into cgroups of its own; it stays
    // in tenement's, so one limit covers the app and gVisor's overhead and the OOM counter is
    // still there to read when the sandbox is gone.
    const argv = [...this.#globalFlags(runsc), 'run', '--bundle', bundle, containerId];
    const inner = await startProcessGroup(spec, {
      argv,
      ...(limits === undefined ? {} : { limits }),
      onExit: async () => {
        await release();
        await limits?.release();
      },
    });
    return this.#wrap(inner, containerId);
  }

  async reap(orphan: Orphan, timeoutMs: number): Promise<boolean> {
    const containerId = containerIdOf(orphan.instance);
    // A frozen sandbox would not die of runsc's signals.
    await this.#limits?.thawLeftover?.(orphan.instance).catch(() => undefined);
    const hadContainer = (await this.#listContainers()).includes(containerId);
    if (hadContainer) await this.#deleteContainer(containerId);
    const hadProcess = await reapOrphan(orphan, timeoutMs, this.#limits);
    return hadContainer || hadProcess;
  }

  /**
   * A sandbox a previous server left: its `runsc run` leader is checked like any level's (pid,
   * start time, process group, cgroup, which holds gVisor's processes too); it runs as long as its
   * container does. runsc is not asked: a frozen sandbox would not answer. Stopped through runsc
   * like one started here; the container and its bundle go with it.
   */
  async adopt(orphan: Orphan): Promise<Adoption> {
    const containerId = containerIdOf(orphan.instance);
    // Claimed first: a start meanwhile must not clean it up as a crashed server's leftover.
    this.#adopted.add(containerId);
    this.#notDeleted.add(containerId);
    const adoption = await adoptProcessGroup(orphan, this.#limits, async () => {
      this.#adopted.delete(containerId);
      await this.#deleteContainer(containerId);
      await rm(join(this.#stateDir, 'bundles', containerId), { recursive: true, force: true });
    });
    if ('refused' in adoption) {
      this.#adopted.delete(containerId);
      return adoption;
    }
    return { proc: this.#wrap(adoption.proc, containerId), frozen: adoption.frozen };
  }

  /** Kills and deletes every tenement container in our runsc root not adopted; returns their ids. */
  async cleanLeftovers(): Promise<string[]> {
    const isLeftover = (id: string): boolean => id.startsWith(CONTAINER_PREFIX) && !this.#adopted.has(id);
    // A frozen sandbox answers no runsc command (list included) and would stay frozen for good:
    // the group of every leftover bundle is thawed first.
    for (const id of (await readdir(join(this.#stateDir, 'bundles')).catch(() => [])).filter(isLeftover)) {
      const [service = '', instanceId = ''] = id.slice(CONTAINER_PREFIX.length).split('.');
      await this.#limits?.thawLeftover?.(`${service}:${instanceId}`).catch(() => undefined);
    }
    const ids = (await this.#listContainers()).filter(isLeftover);
    for (const id of ids) await this.#deleteContainer(id);
    return ids;
  }

  /**
   * Stop asks gVisor, not the host: `runsc kill` delivers SIGTERM to the app inside (a signal to
   * `runsc run` would kill the sandbox without letting the app finish), SIGKILL to everything in
   * the container after the timeout, then a forced delete and the host group as a last resort.
   */
  #wrap(inner: RunningProcess, containerId: string): RunningProcess {
    const exited = inner.exited.then(translateExit);
    let stopping: Promise<ExitInfo> | undefined;
    const stop = (timeoutMs: number): Promise<ExitInfo> => {
      stopping ??= (async () => {
        // A frozen sentry answers no runsc command: thawed first.
        await inner.cgroup?.thaw().catch(() => undefined);
        await this.#runsc(['kill', containerId, 'TERM']).catch(() => undefined);
        if (await settlesWithin(exited, timeoutMs)) return exited;
        await this.#runsc(['kill', '--all', containerId, 'KILL']).catch(() => undefined);
        if (await settlesWithin(exited, KILL_GRACE_MS)) return exited;
        await this.#deleteContainer(containerId);
        await inner.stop(0);
        return exited;
      })();
      return stopping;
    };
    // The sandbox (gVisor's sentry and gofer) runs in the instance's cgroup: freezing it freezes the app.
    return { pid: inner.pid, startTime: inner.startTime, exited, stop, ...(inner.cgroup === undefined ? {} : { cgroup: inner.cgroup }) };
  }

  #globalFlags(runsc: string): string[] {
    return [runsc, '--root', join(this.#stateDir, 'runsc'), '--network=host', '--ignore-cgroups'];
  }

  async #runsc(args: readonly string[]): Promise<string> {
    const [command, ...flags] = this.#globalFlags(await this.#runscPath());
    const { stdout } = await run(command!, [...flags, ...args], { timeout: RUNSC_COMMAND_TIMEOUT_MS });
    return stdout;
  }

  async #listContainers(): Promise<string[]> {
    const text = await this.#runsc(['list', '--format', 'json']).catch(() => 'null');
    const list = (JSON.parse(text.trim() || 'null') ?? []) as Array<{ id?: unknown }>;
    return list.map((entry) => entry.id).filter((id): id is string => typeof id === 'string');
  }

  /** Kills everything in the container and removes it; a container that does not exist is fine. */
  async #deleteContainer(containerId: string): Promise<void> {
    try {
      await this.#runsc(['delete', '--force', containerId]);
      this.#notDeleted.delete(containerId);
    } catch {
      // Still listed as not deleted: the next start of the instance tries again.
    }
  }

  #runscPath(): Promise<string> {
    this.#probe ??= probeRunsc(this.#runscOption);
    return this.#probe;
  }
}

/** The OCI runtime spec gVisor runs the instance from; `empty` is the file that covers secrets. */
export function bundleConfig(spec: SpawnSpec, rootfs: string, mounts: readonly OciMount[], empty: string): object {
  const noCapabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.user?.uid ?? 0, gid: spec.user?.gid ?? 0, additionalGids: [] },
      args: spec.argv,
      env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
      cwd: resolve(spec.cwd),
      capabilities: noCapabilities,
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: `${spec.id}.${spec.service}`,
    mounts,
    // No network namespace: the app listens on the host's 127.0.0.1:PORT (with --network=host).
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }] },
    annotations: cachedMountHints(mounts, empty),
  };
}

/**
 * gVisor's mount hints that let the sandbox cache what it reads from the read-only host folders
 * (`share: container`, i.e. gVisor's "exclusive" file access), as it always did for its root
 * mount, instead of asking the host again on every path lookup (runsc's default for bind mounts,
 * which cost Node.js 20 to 30 ms of start). The price: a change the host makes in /usr, /etc or
 * the app's folder while an instance runs may be seen only after its restart, as before these
 * folders were bind mounts. DATA_DIR keeps the default, so the host's changes there are seen at
 * once; the secret-covering file is left out (runsc wants one hint per source).
 */
export function cachedMountHints(mounts: readonly OciMount[], empty: string): Record<string, string> {
  const hints: Record<string, string> = {};
  const sources = new Set(mounts.filter((m) => m.type === 'bind' && m.options?.includes('ro') && m.source !== empty).map((m) => m.source));
  let index = 0;
  for (const source of sources) {
    const prefix = `dev.gvisor.spec.mount.tenement${index++}`;
    Object.assign(hints, { [`${prefix}.source`]: source, [`${prefix}.type`]: 'bind', [`${prefix}.share`]: 'container' });
  }
  return hints;
}

/**
 * `runsc run` exits with the app's code, or 128+N when a signal N ended it (a container's
 * status, as Docker reports it); turned back into the signal so a stop reads like a stop.
 */
function translateExit(info: ExitInfo): ExitInfo {
  if (info.code === null || info.code <= 128) return info;
  const number = info.code - 128;
  const signal = (Object.keys(osConstants.signals) as NodeJS.Signals[]).find((name) => osConstants.signals[name] === number);
  return signal === undefined ? info : { code: null, signal, oomKilled: info.oomKilled };
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = await Promise.race([promise.then(() => true, () => true), timeout]);
  clearTimeout(timer);
  return settled;
}

/** Finds runsc and proves once, with a real throwaway container, that it can run on this host. */
async function probeRunsc(runscOption: string): Promise<string> {
  const path = await findExecutable(runscOption);
  if (path === undefined) {
    throw new TenementError('isolation_unavailable', `sandbox isolation needs gVisor's runsc (apt-get install runsc), not found at ${runscOption}`);
  }
  if (process.getuid?.() !== 0) {
    throw new TenementError('isolation_unavailable', 'sandbox isolation needs root to start gVisor; run ten serve as root');
  }
  const scratch = await mkdtemp(join(tmpdir(), 'tenement-runsc-probe-'));
  try {
    await writeFile(join(scratch, 'config.json'), JSON.stringify({
      ociVersion: '1.0.2',
      process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/true'], env: ['PATH=/usr/bin:/bin'], cwd: '/' },
      root: { path: '/', readonly: true },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }] },
    }));
    // runsc names a sandbox's control socket after the container id in one host-wide (abstract)
    // namespace: two servers probing at once must not pick the same id.
    const probeId = `tenement-probe-${basename(scratch).replace(/^tenement-runsc-probe-/, '')}`;
    await run(path, ['--root', join(scratch, 'state'), '--network=host', '--ignore-cgroups', 'run', '--bundle', scratch, probeId], {
      timeout: 30_000,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').pop() ?? '';
    throw new TenementError('isolation_unavailable', `sandbox isolation is unavailable: runsc cannot start a sandbox on this host (${stderr || 'it failed'})`, {
      hint: 'check that the kernel allows ptrace and that ten serve runs as root outside a restricted container',
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return path;
}
