/**
 * The host's users and groups as /etc/passwd and /etc/group list them: to resolve
 * `[service.x] user = "name"` and to know which ids tenant uids must never take.
 * @module
 */
import { readFileSync } from 'node:fs';

export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface SystemUsers {
  readonly byName: ReadonlyMap<string, SystemUser>;
  /** Every uid in /etc/passwd and every gid in /etc/passwd and /etc/group. */
  readonly takenIds: ReadonlySet<number>;
}

export interface SystemUserFiles {
  readonly passwd?: string;
  readonly group?: string;
}

/** Reads both files now (they change when an admin adds a user); a missing file lists nothing. */
export function readSystemUsers(files: SystemUserFiles = {}): SystemUsers {
  const byName = new Map<string, SystemUser>();
  const takenIds = new Set<number>();
  for (const fields of records(files.passwd ?? '/etc/passwd')) {
    const [name, , uid, gid] = fields;
    if (name === undefined || !isId(uid) || !isId(gid)) continue;
    byName.set(name, { name, uid: Number(uid), gid: Number(gid) });
    takenIds.add(Number(uid)).add(Number(gid));
  }
  for (const [, , gid] of records(files.group ?? '/etc/group')) {
    if (isId(gid)) takenIds.add(Number(gid));
  }
  return { byName, takenIds };
}

function records(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.split(':'));
}

function isId(value: string | undefined): value is string {
  return value !== undefined && /^\d+$/.test(value);
}
