/**
 * Which user each instance runs as (docs/isolation: tenant identity). As root: its service's
 * `user`, or a uid (gid = the same number) of its own from `[settings] uid_range`, skipping every
 * id /etc/passwd or /etc/group lists, allocated on its first start and kept in the store with its
 * registration (so stable across restarts, and free again after `ten rm`). Not root: nobody can
 * be switched to, so instances run as the server's user.
 * @module
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { lchown, readdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { readSystemUsers, type SystemUsers } from '../config/system-users.js';
import type { ServiceConfig } from '../config/types.js';
import { TenementError } from '../core/errors.js';
import type { TenantUser } from '../runtime/runtime.js';
import type { InstanceStore } from '../store/instances.js';

export interface TenantUsersOptions {
  readonly store: InstanceStore;
  readonly uidRange: readonly [number, number];
  /** Whether tenement may switch users (runs as root); default: whether it does. */
  readonly canSwitch?: boolean;
  /** The host's users; default: read /etc/passwd and /etc/group at each allocation. */
  readonly systemUsers?: () => SystemUsers;
}

export class TenantUsers {
  readonly canSwitch: boolean;
  readonly #store: InstanceStore;
  readonly #range: readonly [number, number];
  readonly #systemUsers: () => SystemUsers;

  constructor(options: TenantUsersOptions) {
    this.#store = options.store;
    this.#range = options.uidRange;
    this.canSwitch = options.canSwitch ?? process.getuid?.() === 0;
    this.#systemUsers = options.systemUsers ?? (() => readSystemUsers());
  }

  /** The user `service:id` runs as; undefined = the server's own. */
  userFor(service: ServiceConfig, id: string): TenantUser | undefined {
    if (!this.canSwitch) return undefined;
    if (service.user !== undefined) return { uid: service.user.uid, gid: service.user.gid };
    const row = this.#store.get(service.name, id);
    if (row === undefined) throw new TenementError('instance_not_found', `no instance ${service.name}:${id}`);
    const uid = row.uid ?? this.#allocate(service.name, id);
    return { uid, gid: uid };
  }

  #allocate(service: string, id: string): number {
    const { takenIds } = this.#systemUsers();
    const used = this.#store.usedUids();
    const [low, high] = this.#range;
    for (let uid = low; uid <= high; uid++) {
      if (takenIds.has(uid) || used.has(uid)) continue;
      this.#store.setUid(service, id, uid);
      return uid;
    }
    throw new TenementError('spawn_failed', `cannot start ${service}:${id}: every uid in uid_range [${low}, ${high}] is taken`, {
      hint: 'widen [settings] uid_range or remove instances you no longer need (ten rm)',
    });
  }
}

/**
 * Creates (or fixes) an instance's own folder, and returns `user`: owned by its user, mode 0700, in a service folder
 * of mode 0711 (instances pass through it, but cannot list it). A folder another uid owned (an older
 * tenement, or the same instance registered anew) is handed over whole. `appDir`, the DATA_DIR
 * the app is given when the service's env sets one inside the own folder, is made with it while
 * tenement still owns the folder; once a tenant owns it, what is inside is the tenant's to make
 * (tenement never creates paths in a folder a tenant can fill with symlinks).
 */
export async function prepareDataDir(dir: string, user: TenantUser | undefined, appDir = dir): Promise<TenantUser | undefined> {
  // Metadata calls on two folders, made synchronously: each is microseconds, a thread-pool round
  // trip is more, and every spawn makes them.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dirname(dir), 0o711);
  chmodSync(dir, 0o700);
  const { uid, gid } = statSync(dir);
  if (appDir !== dir && uid === process.getuid?.()) mkdirSync(appDir, { recursive: true, mode: 0o700 });
  if (user === undefined) return undefined;
  if (uid !== user.uid || gid !== user.gid) await chownTree(dir, user);
  return user;
}

/**
 * Refuses a DATA_DIR (set in the service's env) outside the instance's own folder when the
 * instance runs as a uid tenement allocated: that uid owns nothing else, and tenement never
 * creates or chowns any other path for it (an `{id}` chosen by whoever spawns must never make
 * tenement hand a host folder to a tenant). With `user = "name"` or without root the path is used
 * as it is. The message names the key, never the path (errors leak no paths).
 */
export function checkAppDataDir(service: ServiceConfig, id: string, ownDir: string, appDir: string, user: TenantUser | undefined): void {
  const rel = relative(ownDir, appDir);
  const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  if (inside || user === undefined || service.user !== undefined) return;
  throw new TenementError('spawn_failed', `cannot start ${service.name}:${id}: service.${service.name}.env.DATA_DIR is outside the instance's own folder {data_dir}/{name}/{id}, the only one its uid is given`, {
    hint: `keep DATA_DIR inside {data_dir}/{name}/{id}, or run the service as an existing user (service.${service.name}.user) that owns the folder`,
  });
}

/** lchown of `dir` and everything below it (links themselves, never what they point to). */
export async function chownTree(dir: string, owner: TenantUser): Promise<void> {
  await lchown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { recursive: true })) await lchown(join(dir, entry), owner.uid, owner.gid);
}
