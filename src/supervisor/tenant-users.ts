/**
 * Which user each instance runs as (docs/isolation: tenant identity). As root: its service's
 * `user`, or a uid (gid = the same number) of its own from `[settings] uid_range`, skipping every
 * id /etc/passwd or /etc/group lists, allocated on its first start and kept in the store with its
 * registration (so stable across restarts, and free again after `ten rm`). Not root: nobody can
 * be switched to, so instances run as the server's user.
 * @module
 */
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
