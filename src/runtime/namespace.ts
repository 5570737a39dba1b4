/**
 * The `namespace` isolation level: each instance in its own PID, mount, IPC and UTS namespaces
 * (util-linux unshare), seeing only its own processes and, of tenement's data dir, only its own
 * DATA_DIR. The network namespace stays the host's so the proxy reaches 127.0.0.1:PORT.
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TenementError } from '../core/errors.js';
import { checkLimits, findExecutable } from './preflight.js';
import { adoptProcessGroup } from './adopt.js';
import { dropPrivilegesArgv, findSetpriv, hasOwnUid } from './privileges.js';
import { reapOrphan, startProcessGroup } from './process.js';
import type { Adoption, LimitRequest, LimitsProvider, Orphan, RunningProcess, Runtime, SpawnSpec } from './runtime.js';

const run = promisify(execFile);

/**
 * PID 1 of the instance's namespaces, run by sh as root with: data root, own data dir, hostname,
 * then the argv to exec once the mounts are made (setpriv dropping every privilege, then the
 * reaper sh below running the app).
 * - The data root is covered by an empty read-only tmpfs, and the own dir bound back on top of
 *   it through a descriptor opened before the cover (its path is hidden by then; mount must not
 *   canonicalize /proc/self/fd/3 back into that path).
 * - Without CAP_SYS_ADMIN (setpriv drops it before the app runs) the cover cannot be unmounted,
 *   and a user namespace the app makes itself gets the mounts locked (the kernel refuses it too).
 */
const INIT_SCRIPT = `set -e
root=$1 own=$2 name=$3
shift 3
echo "$name" > /proc/sys/kernel/hostname
sbin=/usr/sbin:/usr/bin:/sbin:/bin
case "$own" in
  "$root"/*)
    exec 3< "$own"
    PATH=$sbin mount -t tmpfs -o mode=0755,size=64k tenement-hidden "$root"
    mkdir -p "$own"
    PATH=$sbin mount --no-canonicalize --bind /proc/self/fd/3 "$own"
    exec 3<&-
    PATH=$sbin mount -o remount,ro "$root" ;;
  *)
    PATH=$sbin mount -t tmpfs -o mode=0755,size=64k,ro tenement-hidden "$root" ;;
esac
exec "$@"`;

/**
 * Stays PID 1 (unprivileged by then) instead of exec'ing the app: the kernel drops signals a
 * PID 1 has no handler for, so an app as PID 1 would ignore the SIGTERM of a stop. The stop's
 * group signal reaches the app directly (same process group); when the app exits, sh exits with
 * its status, and the kernel kills whatever else is left in the namespace.
 */
const REAPER_SCRIPT = '"$@" &\nwait $!';

export interface NamespaceRuntimeOptions {
  /** tenement's data dir: hidden from every instance except for the instance's own DATA_DIR. */
  readonly dataRoot: string;
  readonly limits?: LimitsProvider;
  /** util-linux unshare; default `unshare` on PATH. */
  readonly unsharePath?: string;
}

export class NamespaceRuntime implements Runtime {
  readonly isolation = 'namespace' as const;
  readonly #dataRoot: string;
  readonly #limits: LimitsProvider | undefined;
  readonly #unshare: string;
  #probe: Promise<string> | undefined;

  constructor(options: NamespaceRuntimeOptions) {
    this.#dataRoot = resolve(options.dataRoot);
    this.#limits = options.limits;
    this.#unshare = options.unsharePath ?? 'unshare';
  }

  async check(spec: LimitRequest): Promise<void> {
    await this.#unsharePath();
    await findSetpriv();
    await checkLimits(this.#limits, spec);
  }

  async start(spec: SpawnSpec): Promise<RunningProcess> {
    const unshare = await this.#unsharePath();
    const setpriv = await findSetpriv();
    await checkLimits(this.#limits, spec);
    const limits = await this.#limits?.apply({ ...spec, tenantOwnsSockets: hasOwnUid(spec.user) });
    const argv = [
      unshare, '--pid', '--fork', '--kill-child', '--mount-proc', '--mount', '--ipc', '--uts', '--propagation', 'private',
      '--', '/bin/sh', '-c', INIT_SCRIPT, 'tenement-init', this.#dataRoot, resolve(spec.dataDir), `${spec.id}.${spec.service}`,
      ...dropPrivilegesArgv(setpriv, spec.user), '/bin/sh', '-c', REAPER_SCRIPT, 'tenement-init', ...spec.argv,
    ];
    return startProcessGroup(spec, {
      argv,
      ...(limits === undefined ? {} : { limits, onExit: () => limits.release() }),
    });
  }

  /** The orphan's pid is its unshare, the leader of its group: stopping the group ends the namespace. */
  reap(orphan: Orphan, timeoutMs: number): Promise<boolean> {
    return reapOrphan(orphan, timeoutMs, this.#limits);
  }

  /** The unshare leader and its group are watched like any process group, in its cgroup. */
  adopt(orphan: Orphan): Promise<Adoption> {
    return adoptProcessGroup(orphan, this.#limits);
  }

  /**
   * Resolves unshare and proves once, by running the init script for real on a scratch dir, that
   * this host lets us create the namespaces and mounts; the reason is kept for every later call.
   */
  #unsharePath(): Promise<string> {
    this.#probe ??= probeNamespaces(this.#unshare);
    return this.#probe;
  }
}

async function probeNamespaces(unshare: string): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw unavailable('it must create mount and PID namespaces, which needs root (CAP_SYS_ADMIN); run ten serve as root');
  }
  const path = await findExecutable(unshare);
  if (path === undefined) {
    throw unavailable(`it needs util-linux unshare, not found at ${JSON.stringify(unshare)} (apt-get install util-linux)`);
  }
  const scratch = await mkdtemp(join(tmpdir(), 'tenement-ns-probe-'));
  try {
    await mkdir(join(scratch, 'own'));
    await run(path, ['--pid', '--fork', '--kill-child', '--mount-proc', '--mount', '--ipc', '--uts', '--propagation', 'private',
      '--', '/bin/sh', '-c', INIT_SCRIPT, 'tenement-init', scratch, join(scratch, 'own'), 'probe', 'true'], { timeout: 10_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n')[0] ?? '';
    throw unavailable(`this host refuses to create the namespaces or mounts (${stderr || 'unshare failed'}); in a container, run with CAP_SYS_ADMIN and unconfined seccomp/AppArmor`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return path;
}

function unavailable(why: string): TenementError {
  return new TenementError('isolation_unavailable', `namespace isolation is unavailable: ${why}`);
}
