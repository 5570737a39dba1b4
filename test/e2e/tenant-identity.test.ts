// Tenant identity as the host sees it, when ten serve runs as root: the modes of tenement's files
// (and their repair in an older data dir), each instance's uid kept across restarts and freed by
// `ten rm`, `user = "name"`, and a port fence asked for on a host without nftables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, startDaemon, tempDir, waitFor, type Daemon } from '../helpers/daemon.js';

const CONFIG = `
[settings]
port_range = [21000, 22999]
[service.app]
command = "node {apps}/hostile.mjs"
health = "/health"
stop_timeout = 2
[service.legacy]
command = "node {apps}/hostile.mjs"
health = "/health"
user = "nobody"
`;

const modeOf = (path: string): string => `0${(statSync(path).mode & 0o777).toString(8)}`;

async function uidOf(d: Daemon, instance: string): Promise<number> {
  const [service, id] = instance.split(':');
  const res = await d.http('/whoami', { host: `${id}.${service}.localhost` });
  assert.equal(res.status, 200, res.body);
  return (JSON.parse(res.body) as { uid: number }).uid;
}

test('the data dir is 0711, the store and token 0600, a DATA_DIR 0700 and its instance\'s own', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  assert.equal((await d.ten(['spawn', 'app:a'])).code, 0);
  assert.equal(modeOf(d.dataDir), '0711');
  for (const file of ['tenement.db', 'tenement.db-wal', 'tenement.db-shm', 'api_token']) {
    assert.ok(existsSync(join(d.dataDir, file)), file);
    assert.equal(modeOf(join(d.dataDir, file)), '0600', file);
  }
  assert.equal(modeOf(join(d.dataDir, 'app')), '0711');
  const own = statSync(join(d.dataDir, 'app', 'a'));
  assert.equal(modeOf(join(d.dataDir, 'app', 'a')), '0700');
  assert.equal(own.uid, await uidOf(d, 'app:a'));
  assert.equal(statSync(join(d.dataDir, 'app', 'a', 'secret.txt')).uid, own.uid, 'the app wrote it as itself');
});

test('an older data dir with wider modes is narrowed at start, and ten serve says so', async (t) => {
  const dir = tempDir();
  const first = await startDaemon(t, { config: CONFIG, dir });
  await first.stop();
  chmodSync(first.dataDir, 0o755);
  for (const file of ['tenement.db', 'api_token']) chmodSync(join(first.dataDir, file), 0o644);
  chmodSync(first.configFile, 0o644);
  const second = await startDaemon(t, { config: CONFIG, dir });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(modeOf(second.dataDir), '0711');
  assert.equal(modeOf(join(second.dataDir, 'tenement.db')), '0600');
  assert.equal(modeOf(join(second.dataDir, 'api_token')), '0600');
  assert.equal(modeOf(second.configFile), '0640');
  assert.match(second.output(), /^data was mode 0755: now 0711$/m);
  assert.match(second.output(), /^data\/api_token was mode 0644: now 0600$/m);
  assert.match(second.output(), /^tenement\.toml was readable by every user \(it holds the services' env\): now mode 0640$/m);
});

test('an instance keeps its uid across server restarts; ten rm frees it and takes its kept data back', async (t) => {
  const dir = tempDir();
  const first = await startDaemon(t, { config: CONFIG, dir });
  for (const name of ['app:a', 'app:b']) assert.equal((await first.ten(['spawn', name])).code, 0);
  const uidA = await uidOf(first, 'app:a');
  const uidB = await uidOf(first, 'app:b');
  assert.notEqual(uidA, uidB);
  await first.stop();

  const second = await startDaemon(t, { config: CONFIG, dir });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['app:a', 'app:b']) assert.equal((await second.ten(['start', name])).code, 0);
  assert.equal(await uidOf(second, 'app:a'), uidA);
  assert.equal(await uidOf(second, 'app:b'), uidB);

  assert.equal((await second.ten(['rm', 'app:a'])).code, 0);
  assert.equal(statSync(join(second.dataDir, 'app', 'a', 'secret.txt')).uid, 0, 'its kept data belongs to tenement again');
  assert.equal((await second.ten(['spawn', 'app:c'])).code, 0);
  assert.equal(await uidOf(second, 'app:c'), Math.min(uidA, uidB), 'the lowest free uid is given again');
});

test('what an instance left outside its process group dies when the next server starts after a crash', async (t) => {
  const dir = tempDir();
  const first = await startDaemon(t, { config: CONFIG, dir });
  assert.equal((await first.ten(['spawn', 'app:s'])).code, 0);
  const res = await first.http('/setsid', { host: 's.app.localhost' });
  const { pid } = JSON.parse(res.body) as { pid: number };
  assert.ok(isAlive(pid), `the setsid child runs (${pid})`);
  await first.crash();
  assert.ok(isAlive(pid), 'a crash leaves it behind');
  // The service is gone from the next config: the instance is not started again, only reaped.
  await startDaemon(t, { config: CONFIG.replace(/\[service\.app\][^[]*/, ''), dir });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await waitFor(() => !isAlive(pid), 10_000, `setsid child ${pid} to be gone`);
});

test('user = "nobody" runs the instance as that existing user', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  assert.equal((await d.ten(['spawn', 'legacy:x'])).code, 0);
  assert.equal(await uidOf(d, 'legacy:x'), 65534);
  assert.equal(statSync(join(d.dataDir, 'legacy', 'x')).uid, 65534);
});

test('a server that is not root says its instances share its user, and runs them', async (t) => {
  // Its own port range: a root server's port fence (one running beside it) refuses every other
  // uid's connections into its range, this server's health checks included.
  const config = CONFIG.replace(/\[service\.legacy\][^[]*/, '').replace('port_range = [21000, 22999]', 'port_range = [23000, 23999]');
  const d = await startDaemon(t, { config, asUser: 65534 });
  assert.match(d.output(), /^tenants: share tenement's user \(it is not root\), so they can read each other's files and tenement's; no_new_privs$/m);
  assert.match(d.output(), /^port fence: off \(it needs root to load nftables rules\)$/m);
  const spawned = await d.ten(['spawn', 'app:a']);
  assert.equal(spawned.code, 0, `${spawned.stderr}\n${d.output()}`);
  assert.equal(await uidOf(d, 'app:a'), 65534);
});

test('a port fence asked for on a host without nftables stops ten serve; unasked, it is reported off', async (t) => {
  const withoutNft = { PATH: '/usr/bin:/bin' };
  const required = startDaemon(t, { config: `${CONFIG}\n`.replace('[settings]', '[settings]\nport_fence = true'), env: withoutNft });
  await assert.rejects(required, /ten serve exited with 1:[\s\S]*error: the port fence is unavailable: nftables is not installed/);
  const d = await startDaemon(t, { config: CONFIG, env: withoutNft });
  assert.match(d.output(), /^port fence: off \(nftables is not installed \(apt-get install nftables\)\)$/m);
});
