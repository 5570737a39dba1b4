/**
 * How an instance's app loses every privilege before its first instruction: util-linux `setpriv`
 * switches to the tenant's uid/gid, clears supplementary groups, empties the bounding,
 * inheritable and ambient capability sets and sets no_new_privs (so no setuid binary or file
 * capability can give any back), then execs the app.
 * @module
 */
import { TenementError } from '../core/errors.js';
import { findExecutable } from './preflight.js';
import type { TenantUser } from './runtime.js';

let setprivLookup: Promise<string> | undefined;

/** util-linux setpriv, found once; `isolation_unavailable` without it. */
export function findSetpriv(): Promise<string> {
  setprivLookup ??= findExecutable('setpriv').then((path) => {
    if (path === undefined) {
      throw new TenementError('isolation_unavailable', 'instances cannot be started without privileges: util-linux setpriv is not installed', {
        hint: 'apt-get install util-linux',
      });
    }
    return path;
  });
  return setprivLookup;
}

/**
 * The argv prefix that drops privileges and execs what follows it. As root: become `user` (or
 * stay uid 0 without a single capability when none is given). Not root there is nothing to drop
 * but the right to gain some: no_new_privs.
 */
export function dropPrivilegesArgv(setpriv: string, user: TenantUser | undefined, isRoot = process.getuid?.() === 0): string[] {
  if (!isRoot) return [setpriv, '--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', '--'];
  return [
    setpriv,
    ...(user === undefined ? [] : [`--reuid=${user.uid}`, `--regid=${user.gid}`]),
    '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
  ];
}

/** Whether the app runs as a uid of its own, not tenement's (its sockets are then its own too). */
export function hasOwnUid(user: TenantUser | undefined, serverUid = process.getuid?.()): boolean {
  return user !== undefined && user.uid !== serverUid;
}
