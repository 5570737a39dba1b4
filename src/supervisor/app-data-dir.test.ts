// A DATA_DIR set in a service's env, as root: inside the instance's own folder it is made with it
// and owned by the instance's uid; anywhere else, for a uid tenement allocated, the start is
// refused and tenement creates or chowns nothing there, whatever id an attacker spawns; a symlink
// a tenant planted in its own folder is never followed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { TenementError } from '../core/errors.js';
import { ProcessRuntime } from '../runtime/process.js';
import { openDb } from '../store/db.js';
import { InstanceStore } from '../store/instances.js';
import { startInstanceProcess } from './start-process.js';
import { TenantUsers } from './tenant-users.js';

function setup(t: TestContext, dataDirLine: string): { root: string; start: (id: string) => ReturnType<typeof startInstanceProcess> } {
  const root = mkdtempSync(join(tmpdir(), 'tenement-app-data-dir-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const config = parseConfig(
    `[settings]\ndata_dir = "data"\n[service.app]\ncommand = "sleep 30"\n[service.app.env]\n${dataDirLine}\n`,
    join(root, 'tenement.toml'),
  );
  const store = new InstanceStore(openDb(':memory:'));
  const users = new TenantUsers({ store, uidRange: [61900, 61999], canSwitch: true });
  const start = async (id: string): ReturnType<typeof startInstanceProcess> => {
    if (store.get('app', id) === undefined) store.insert('app', id, 100, 'running');
    const running = await startInstanceProcess({ config, users }, new ProcessRuntime(), config.services.app!, id, 0, undefined, () => undefined);
    t.after(() => running.stop(1000));
    return running;
  };
  return { root, start };
}

test('a DATA_DIR inside the instance\'s own folder is made with it, owned by the instance\'s uid', async (t) => {
  const { root, start } = setup(t, 'DATA_DIR = "{data_dir}/{name}/{id}/db"');
  await start('a');
  const own = statSync(join(root, 'data', 'app', 'a'));
  const appDir = statSync(join(root, 'data', 'app', 'a', 'db'));
  assert.ok(own.uid >= 61900 && own.uid <= 61999, `own folder uid ${own.uid}`);
  assert.equal(appDir.uid, own.uid);
  assert.equal(appDir.mode & 0o777, 0o700);
});

test('a DATA_DIR outside the own folder is refused for an allocated uid; the host folder an id names is left alone', async (t) => {
  const { root, start } = setup(t, 'DATA_DIR = "{data_dir}/{id}"');
  // An attacker spawns the id that names another service's folder, holding its tenants' data.
  mkdirSync(join(root, 'data', 'notes', 'x'), { recursive: true });
  await assert.rejects(start('notes'), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'spawn_failed');
    assert.equal(err.message, 'cannot start app:notes: service.app.env.DATA_DIR is outside the instance\'s own folder {data_dir}/{name}/{id}, the only one its uid is given');
    assert.doesNotMatch(err.message, new RegExp(root), 'no path in the message');
    return true;
  });
  assert.equal(statSync(join(root, 'data', 'notes')).uid, 0);
  assert.equal(statSync(join(root, 'data', 'notes', 'x')).uid, 0);
});

test('a symlink a tenant left where its DATA_DIR goes is not followed', async (t) => {
  const { root, start } = setup(t, 'DATA_DIR = "{data_dir}/{name}/{id}/db/sub"');
  const first = await start('a');
  await first.stop(1000);
  // The tenant owns its folder now: it swaps db for a link to a folder of the host.
  const own = join(root, 'data', 'app', 'a');
  const target = mkdtempSync(join(tmpdir(), 'tenement-host-folder-'));
  t.after(() => rmSync(target, { recursive: true, force: true }));
  rmSync(join(own, 'db'), { recursive: true });
  symlinkSync(target, join(own, 'db'));
  await start('a');
  assert.equal(existsSync(join(target, 'sub')), false, 'nothing made through the link');
  assert.equal(statSync(target).uid, 0, 'the host folder keeps its owner');
  assert.ok(lstatSync(join(own, 'db')).isSymbolicLink());
});
