/**
 * What a sandboxed app sees of the host filesystem: a root built from read-only bind mounts of
 * what programs need (/usr and the merged-/usr links, /etc without its secrets), its workdir and
 * the folders of the files its command names (read-only), its own DATA_DIR (writable) and a
 * private /tmp. Never /root, /home, tenement's data dir or its config file.
 * @module
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TenementError } from '../core/errors.js';
import type { SpawnSpec } from './runtime.js';

/** Host folders every program may need, read-only (symlinks, as on merged-/usr hosts, stay links). */
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];
/** Secrets in /etc, always covered by an empty file. */
const SECRET_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-'];
/** Secret folders in /etc, always covered by an empty read-only tmpfs. */
const SECRET_DIRS = ['/etc/ssh'];
/**
 * Also covered when the app runs as uid 0; for a tenant uid their modes (0440, 0750, 0700 root)
 * already refuse it, and every mount is a little more start time.
 */
const ROOT_ONLY_SECRETS = { files: ['/etc/sudoers'], dirs: ['/etc/sudoers.d', '/etc/ssl/private'] };
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
 * The mounts that make up an instance's root, in order, and their mount points in `rootfs`: a
 * skeleton shared by every sandbox of the runtime (empty folders, empty files, the merged-/usr
 * links), made once and only grown. `empty` is the empty file that covers secret files.
 */
export function sandboxRoot(rootfs: string, empty: string, spec: SpawnSpec, view: SandboxView): OciMount[] {
  ensureDir(rootfs);
  if (!existsSync(empty)) {
    writeFileSync(empty, '');
    chmodSync(empty, 0o444);
  }
  const bound: string[] = [];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
  ];
  for (const path of SYSTEM_PATHS) {
    const stat = lstatOrUndefined(path);
    if (stat?.isSymbolicLink()) {
      if (lstatOrUndefined(join(rootfs, path)) === undefined) symlinkSync(readlinkSync(path), join(rootfs, path));
    } else if (stat?.isDirectory()) {
      mounts.push(readOnlyBind(path));
    } else {
      continue;
    }
    bound.push(path);
  }
  const asRoot = (spec.user?.uid ?? 0) === 0;
  const secretFiles = asRoot ? [...SECRET_FILES, ...ROOT_ONLY_SECRETS.files] : SECRET_FILES;
  const secretDirs = asRoot ? [...SECRET_DIRS, ...ROOT_ONLY_SECRETS.dirs] : SECRET_DIRS;
  for (const file of secretFiles) if (existsSync(file)) mounts.push({ ...readOnlyBind(file), source: empty });
  for (const dir of secretDirs) if (existsSync(dir)) mounts.push(emptyTmpfs(dir));

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
    const target = join(rootfs, destination);
    if (lstatOrUndefined(target) !== undefined) continue;
    if (existsSync(destination) && statSync(destination).isFile()) {
      ensureDir(dirname(target));
      writeFileSync(target, '');
      chmodSync(target, 0o444);
    } else {
      ensureDir(target);
    }
  }
  return mounts;
}

/** mkdir -p with every new folder 0755 (readable by the app's user whatever the umask). */
function ensureDir(dir: string): void {
  if (existsSync(dir)) return;
  ensureDir(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (err) {
    // Another instance starting at the same time made it.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(dir, 0o755);
}

/** The workdir and the folders of absolute paths in argv, outermost first, nested ones dropped. */
function appFolders(spec: SpawnSpec): string[] {
  const folders = new Set<string>([resolve(spec.cwd)]);
  for (const arg of spec.argv) {
    if (!arg.startsWith('/') || !existsSync(arg)) continue;
    folders.add(statSync(arg).isDirectory() ? resolve(arg) : dirname(resolve(arg)));
  }
  // /tmp is the app's own, empty one: a workdir of /tmp is that, never the host's /tmp shown whole
  // (runsc mounts it after the private tmpfs, which it would hide).
  const sorted = [...folders].filter((dir) => dir !== '/' && dir !== '/tmp').sort((a, b) => a.length - b.length);
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
