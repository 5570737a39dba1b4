// Tenant uids: allocated from uid_range skipping ids the host's users and groups hold and those
// other registrations hold, stored with the registration (the same after reopening the store),
// free again once the registration is removed, and a clear error when the range runs out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { readSystemUsers } from '../config/system-users.js';
import { TenementError } from '../core/errors.js';
import { openDb } from '../store/db.js';
import { InstanceStore } from '../store/instances.js';
import { TenantUsers } from './tenant-users.js';

const config = parseConfig('[service.app]\ncommand = "x"\n[service.legacy]\ncommand = "x"\nuser = "nobody"\n', '/srv/tenement.toml');
const app = config.services.app!;

function hostFiles(t: { after(fn: () => void): void }): () => ReturnType<typeof readSystemUsers> {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-users-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // 5001 is a user's uid, 5002 only a group's gid: both are taken.
  writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:5001:100::/home/alice:/bin/sh\n');
  writeFileSync(join(dir, 'group'), 'root:x:0:\nstaff:x:5002:\n');
  return () => readSystemUsers({ passwd: join(dir, 'passwd'), group: join(dir, 'group') });
}

test('uids skip ids the host holds, are kept with the registration, and come back after removal', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-users-db-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const systemUsers = hostFiles(t);
  let db = openDb(join(dir, 'tenement.db'));
  let store = new InstanceStore(db);
  let users = new TenantUsers({ store, uidRange: [5000, 5010], canSwitch: true, systemUsers });
  for (const id of ['a', 'b', 'c']) store.insert('app', id, 100, 'running');
  assert.deepEqual(users.userFor(app, 'a'), { uid: 5000, gid: 5000 });
  assert.deepEqual(users.userFor(app, 'b'), { uid: 5003, gid: 5003 }, '5001 (a user) and 5002 (a group) are skipped');
  assert.deepEqual(users.userFor(app, 'a'), { uid: 5000, gid: 5000 }, 'asked again: the same');
  db.close();

  db = openDb(join(dir, 'tenement.db'));
  t.after(() => db.close());
  store = new InstanceStore(db);
  users = new TenantUsers({ store, uidRange: [5000, 5010], canSwitch: true, systemUsers });
  assert.deepEqual(users.userFor(app, 'b'), { uid: 5003, gid: 5003 }, 'kept across a restart');
  store.remove('app', 'a');
  assert.deepEqual(users.userFor(app, 'c'), { uid: 5000, gid: 5000 }, 'a removed registration frees its uid');
});

test('a service with user = "name" runs as that user, and without root everyone runs as the server', () => {
  const store = new InstanceStore(openDb(':memory:'));
  store.insert('app', 'a', 100, 'running');
  const asRoot = new TenantUsers({ store, uidRange: [5000, 5010], canSwitch: true });
  assert.deepEqual(asRoot.userFor(config.services.legacy!, 'x'), { uid: 65534, gid: 65534 });
  const notRoot = new TenantUsers({ store, uidRange: [5000, 5010], canSwitch: false });
  assert.equal(notRoot.userFor(app, 'a'), undefined);
  assert.equal(store.get('app', 'a')?.uid, null, 'nothing was allocated');
});

test('an exhausted uid_range refuses the start, saying how to make room', (t) => {
  const store = new InstanceStore(openDb(':memory:'));
  const users = new TenantUsers({ store, uidRange: [5000, 5001], canSwitch: true, systemUsers: hostFiles(t) });
  store.insert('app', 'a', 100, 'running');
  store.insert('app', 'b', 100, 'running');
  assert.deepEqual(users.userFor(app, 'a'), { uid: 5000, gid: 5000 });
  assert.throws(() => users.userFor(app, 'b'), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'spawn_failed');
    assert.equal(err.message, 'cannot start app:b: every uid in uid_range [5000, 5001] is taken');
    assert.match(err.hint ?? '', /widen \[settings\] uid_range/);
    return true;
  });
});
