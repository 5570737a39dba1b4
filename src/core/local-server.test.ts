// The local-server record: private by construction, and a reader that trusts only private records
// of live servers (a planted or stale record must not send the CLI, and its token, elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLocalServers, localServerDir, recordLocalServer, removeLocalServer, type LocalServer } from './local-server.js';

function setup(t: { after: (fn: () => void) => void }): { env: NodeJS.ProcessEnv; dir: string } {
  const runtime = mkdtempSync(join(tmpdir(), 'tenement-local-'));
  t.after(() => rmSync(runtime, { recursive: true, force: true }));
  return { env: { XDG_RUNTIME_DIR: runtime }, dir: join(runtime, 'tenement') };
}

const server = (pid: number, startedAt = new Date().toISOString()): LocalServer => ({
  url: 'http://127.0.0.1:8080', tokenFile: '/srv/data/api_token', dataDir: '/srv/data', pid, startedAt,
});

test('the record folder is $XDG_RUNTIME_DIR/tenement, else the state folder under HOME', () => {
  assert.equal(localServerDir({ XDG_RUNTIME_DIR: '/run/user/1000', HOME: '/home/a' }), '/run/user/1000/tenement');
  assert.equal(localServerDir({ XDG_STATE_HOME: '/home/a/.state', HOME: '/home/a' }), '/home/a/.state/tenement');
  assert.equal(localServerDir({ XDG_RUNTIME_DIR: 'relative', HOME: '/home/a' }), '/home/a/.local/state/tenement');
});

test('a record is written 0600 in a 0700 folder, found while its server runs, and removed', (t) => {
  const { env, dir } = setup(t);
  const file = recordLocalServer(server(process.pid), env);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(findLocalServers(env), [server(process.pid, findLocalServers(env)[0]!.startedAt)]);
  removeLocalServer(file);
  assert.deepEqual(findLocalServers(env), []);
});

test('records of servers that are gone are dropped; newest first among the live', (t) => {
  const { env, dir } = setup(t);
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  recordLocalServer(server(gone), env);
  recordLocalServer(server(process.pid, '2026-01-01T00:00:00.000Z'), env);
  recordLocalServer(server(process.ppid, '2026-06-01T00:00:00.000Z'), env);
  assert.deepEqual(findLocalServers(env).map((s) => s.pid), [process.ppid, process.pid]);
  assert.ok(!readdirSync(dir).includes(`server-${gone}.json`), 'the stale record is deleted');
});

test('a record another user could have written is ignored', (t) => {
  const { env, dir } = setup(t);
  const file = recordLocalServer(server(process.pid), env);
  chmodSync(file, 0o622);
  assert.deepEqual(findLocalServers(env), [], 'writable by others');
  chmodSync(file, 0o600);
  chownSync(file, 65534, 65534);
  assert.deepEqual(findLocalServers(env), [], 'owned by someone else');
  chownSync(file, process.getuid!(), process.getgid!());
  chmodSync(dir, 0o777);
  assert.deepEqual(findLocalServers(env), [], 'in a folder anyone may write to');
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, `server-${process.ppid}.json`), '{"url": 1}', { mode: 0o600 });
  assert.deepEqual(findLocalServers(env).map((s) => s.pid), [process.pid], 'a malformed record is skipped');
});
