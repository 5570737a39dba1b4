/**
 * What a sandboxed app sees of the host filesystem: a root built from read-only bind mounts of
 * what programs need (/usr and the merged-/usr links, /etc without its secrets), its workdir and
 * the folders of the files its command names (read-only), its own DATA_DIR (writable) and a
 * private /tmp. Never /root, /home, tenement's data dir or its config file.
 * @module
 */
import { existsSync, lstatSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { TenementError } from '../core/errors.js';
import type { SpawnSpec } from './runtime.js';

/** Host folders every program may need, read-only (symlinks, as on merged-/usr hosts, stay links). */
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];
/** Secrets in /etc, covered by an empty file. */
const SECRET_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers'];
/** Secret folders in /etc, covered by an empty read-only tmpfs. */
const SECRET_DIRS = ['/etc/ssh', '/etc/ssl/private', '/etc/sudoers.d'];
/** Never shown, whatever the workdir or command: other users' homes and root's. */
const FORBIDDEN = ['/root', '/home'];

export interface SandboxView {
  /** tenement's data dir: hidden except the instance's own DATA_DIR. */
  readonly dataRoot: string;
  /** Files to cover with an empty file where a bound folder holds them (tenement.toml). */
  readonly hiddenFiles: readonly string[];
}

export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

/**
 * Writes `bundle/rootfs` (empty but for the merged-/usr links and mount points) and
 * `bundle/empty` (what covers secret files), and returns the mounts that make up the root, in order.
 */
export async function prepareSandboxRoot(bundle: string, spec: SpawnSpec, view: SandboxView): Promise<{ rootfs: string; mounts: OciMount[] }> {
  const rootfs = join(bundle, 'rootfs');
  const empty = join(bundle, 'empty');
  await mkdir(rootfs, { recursive: true });
  await writeFile(empty, '', { mode: 0o444 });
  const bound: string[] = [];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
  ];
  for (const path of SYSTEM_PATHS) {
    const stat = lstatOrUndefined(path);
    if (stat?.isSymbolicLink()) await symlink(await readlink(path), join(rootfs, path));
    else if (stat?.isDirectory()) mounts.push(readOnlyBind(path));
    else continue;
    bound.push(path);
  }
  for (const file of SECRET_FILES) if (existsSync(file)) mounts.push({ ...readOnlyBind(file), source: empty });
  for (const dir of SECRET_DIRS) if (existsSync(dir)) mounts.push(emptyTmpfs(dir));

  const dataDir = resolve(spec.dataDir);
  for (const folder of appFolders(spec)) {
    if (isUnder(folder, bound)) continue;
    refuseHidden(spec, folder, view.dataRoot);
    mounts.push(readOnlyBind(folder));
    bound.push(folder);
  }
  for (const file of view.hiddenFiles) if (isUnder(file, bound) && existsSync(file)) mounts.push({ ...readOnlyBind(file), source: empty });
  // Mounts apply in order: the data root (when a bound folder holds it) is covered by an empty
  // tmpfs, then the instance's own DATA_DIR comes back on top of it, writable.
  if (dataDir !== view.dataRoot && isUnder(view.dataRoot, bound)) mounts.push(emptyTmpfs(view.dataRoot));
  mounts.push({ destination: dataDir, type: 'bind', source: dataDir, options: ['rbind', 'rw'] });

  // Mount points directly in the (read-only) rootfs must exist there; gVisor makes nested ones.
  for (const { destination } of mounts) {
    if (mounts.some((m) => destination.startsWith(`${m.destination}/`))) continue;
    const isFile = existsSync(destination) && statSync(destination).isFile();
    if (isFile) {
      await mkdir(join(rootfs, dirname(destination)), { recursive: true });
      await writeFile(join(rootfs, destination), '');
    } else if (lstatOrUndefined(join(rootfs, destination)) === undefined) {
      await mkdir(join(rootfs, destination), { recursive: true });
    }
  }
  await openUp(rootfs);
  await chmod(empty, 0o444);
  return { rootfs, mounts };
}

/**
 * The rootfs skeleton must be readable by the app's user; ten serve's umask (077) made it
 * tenement's alone. It holds only empty folders, empty files and links.
 */
async function openUp(rootfs: string): Promise<void> {
  await chmod(rootfs, 0o755);
  for (const entry of await readdir(rootfs, { recursive: true })) {
    const path = join(rootfs, entry);
    const stat = lstatSync(path);
    if (stat.isDirectory()) await chmod(path, 0o755);
    else if (stat.isFile()) await chmod(path, 0o444);
  }
}

/** The workdir and the folders of absolute paths in argv, outermost first, nested ones dropped. */
function appFolders(spec: SpawnSpec): string[] {
  const folders = new Set<string>([resolve(spec.cwd)]);
  for (const arg of spec.argv) {
    if (!arg.startsWith('/') || !existsSync(arg)) continue;
    folders.add(statSync(arg).isDirectory() ? resolve(arg) : dirname(resolve(arg)));
  }
  const sorted = [...folders].filter((dir) => dir !== '/').sort((a, b) => a.length - b.length);
  return sorted.filter((dir, i) => !isUnder(dir, sorted.slice(0, i)));
}

function refuseHidden(spec: SpawnSpec, folder: string, dataRoot: string): void {
  const forbidden = FORBIDDEN.find((dir) => isUnder(folder, [dir])) ?? (isUnder(folder, [dataRoot]) ? 'the data dir' : undefined);
  if (forbidden === undefined) return;
  throw new TenementError('spawn_failed', `cannot start ${spec.instance}: a sandbox never sees ${forbidden}, and its workdir or command is there`, {
    hint: 'move the app to a folder such as /srv or /opt and point workdir and command there',
  });
}

function isUnder(path: string, folders: readonly string[]): boolean {
  return folders.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

function readOnlyBind(path: string): OciMount {
  return { destination: path, type: 'bind', source: path, options: ['rbind', 'ro', 'nosuid', 'nodev'] };
}

function emptyTmpfs(path: string): OciMount {
  return { destination: path, type: 'tmpfs', source: 'tenement-hidden', options: ['ro', 'nosuid', 'nodev', 'mode=0755', 'size=4k'] };
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
