// An instance adopted by the next `ten serve` (after a SIGKILL of the previous one, or a SIGTERM)
// behaves exactly like one this server started, because its cgroup is re-attached: its memory
// counts what it started outside its process group, it freezes after freeze_after and a request
// thaws it (same pid), `ten stop` kills what escaped its group (a setsid grandchild), its uptime
// counts from its process's start, and one left frozen is adopted frozen. Every isolation level
// (process, namespace, gVisor sandbox) is adopted so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isAlive, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { isCgroupFrozen } from '../helpers/freezer-state.js';
import { through, waitForState } from './proxy-helpers.js';

const HOG_MB = 128;

const service = (name: string, extra = ''): string => `
[service.${name}]
command = "node {apps}/hostile.mjs"
health = "/health"
stop_timeout = 2
startup_timeout = 30
freeze_after = 3
${extra}
`;

const SETTINGS = `
[settings]
health_check_interval = 0.2
`;

interface Listed { instance: string; state: string; pid: number | null; uptime_s: number | null }

async function listed(d: Daemon, name: string): Promise<Listed | undefined> {
  const r = await d.ten(['ps', '-a', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Listed[]).find((i) => i.instance === name);
}

async function ask(d: Daemon, host: string, path: string): Promise<Record<string, unknown>> {
  const r = await through(d, host, path);
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString()) as Record<string, unknown>;
}

/** The folders of `service.id`'s cgroup that exist now, in every hierarchy (named as ten serve names them). */
function cgroupDirs(d: Daemon, instance: string): string[] {
  const parent = `tenement.${createHash('sha256').update(d.dataDir).digest('hex').slice(0, 8)}`;
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2');
  return mounts.map((f) => `${f[1]}/${parent}/${instance.replace(':', '.')}`).filter((dir) => existsSync(dir));
}

/** A request to each instance (thawing a frozen one), so none is frozen when the server is killed right after. */
async function touch(d: Daemon, names: readonly string[]): Promise<void> {
  for (const name of names) assert.equal((await through(d, `${name.split(':')[1]}.${name.split(':')[0]}.localhost`, '/')).status, 200);
}

/** The instance's memory figure in /metrics and in /api/telemetry, once both are above `bytes`. */
async function memoryAbove(d: Daemon, service: string, id: string, bytes: number): Promise<void> {
  const auth = { authorization: `Bearer ${d.token}` };
  await waitFor(async () => {
    const metrics = (await d.http('/metrics', { headers: auth })).body;
    const line = new RegExp(`^tenement_instance_memory_bytes\\{service="${service}",instance="${id}"\\} (\\d+)`, 'm').exec(metrics);
    const telemetry = JSON.parse((await d.http('/api/telemetry', { headers: auth })).body) as Array<{ instance: string; memory_bytes: number | null }>;
    const entry = telemetry.find((e) => e.instance === `${service}:${id}`);
    return line !== null && Number(line[1]) > bytes && (entry?.memory_bytes ?? 0) > bytes;
  }, 30_000, `the memory of ${service}:${id} above ${bytes} bytes in /metrics and /api/telemetry`);
}

/** Same pid frozen after freeze_after (the kernel says so), then thawed by a request. */
async function freezesAndThaws(d: Daemon, name: string, pid: number): Promise<void> {
  const [id, service] = [name.split(':')[1]!, name.split(':')[0]!];
  await waitForState(d, name, 'frozen', 15_000);
  assert.equal(isCgroupFrozen(pid), true, `${name}: the kernel says its cgroup is frozen`);
  const r = await through(d, `${id}.${service}.localhost`, '/');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), `hello from ${name}`);
  assert.equal((await listed(d, name))?.pid, pid, `${name}: the same process answered`);
  assert.equal(isCgroupFrozen(pid), false, `${name}: thawed`);
}

test('after a SIGKILL of ten serve, an adopted instance has its cgroup: memory, freeze and thaw, a stop that kills its setsid grandchild, uptime from its start', async (t) => {
  const config = `${SETTINGS}${service('evil')}`;
  const first = await startDaemon(t, { config, keepInstances: true });
  assert.equal((await first.ten(['spawn', 'evil:a'])).code, 0);
  const { pid: grandchild } = await ask(first, 'a.evil.localhost', '/setsid') as { pid: number };
  const { pid: hog } = await ask(first, 'a.evil.localhost', `/setsid-hog?mb=${HOG_MB}`) as { pid: number };
  assert.ok(isAlive(grandchild) && isAlive(hog), 'the processes it started outside its process group run');
  const before = await waitFor(async () => {
    const row = await listed(first, 'evil:a');
    return row !== undefined && (row.uptime_s ?? 0) >= 2 ? row : undefined;
  }, 20_000, 'evil:a up for 2 s');
  await touch(first, ['evil:a']);
  await first.crash();

  const second = await startDaemon(t, { config, dir: first.dir });
  const adopted = await waitFor(async () => {
    const row = await listed(second, 'evil:a');
    return row !== undefined && ['running', 'frozen'].includes(row.state) ? row : undefined;
  }, 20_000, 'evil:a adopted');
  assert.equal(adopted.pid, before.pid, 'adopted, not restarted');
  assert.ok((adopted.uptime_s ?? 0) >= before.uptime_s!, `uptime ${adopted.uptime_s} s counts from the process's start (was ${before.uptime_s} s)`);

  // The hog left the process group: only the cgroup counts it.
  await memoryAbove(second, 'evil', 'a', HOG_MB * 1048576);
  await freezesAndThaws(second, 'evil:a', before.pid!);

  assert.ok(cgroupDirs(second, 'evil:a').length > 0, 'its cgroup is there while it runs');
  assert.equal((await second.ten(['stop', 'evil:a'])).code, 0);
  for (const pid of [before.pid!, grandchild, hog]) await waitFor(() => !isAlive(pid), 10_000, `process ${pid} gone with the stop`);
  await waitFor(() => cgroupDirs(second, 'evil:a').length === 0, 10_000, () => `its cgroup removed: ${cgroupDirs(second, 'evil:a').join(', ')}`);
});

test('an instance frozen when ten serve exited is adopted frozen, and a request thaws the same process', async (t) => {
  const config = `${SETTINGS}${service('chill')}`;
  const first = await startDaemon(t, { config, keepInstances: true });
  assert.equal((await first.ten(['spawn', 'chill:a'])).code, 0);
  const pid = (await listed(first, 'chill:a'))!.pid!;
  await waitForState(first, 'chill:a', 'frozen', 15_000);
  assert.equal(await first.stop(), 0);
  assert.equal(isCgroupFrozen(pid), true, 'left frozen');

  const second = await startDaemon(t, { config, dir: first.dir });
  await waitForState(second, 'chill:a', 'frozen', 15_000);
  assert.equal((await listed(second, 'chill:a'))?.pid, pid, 'the same process, adopted frozen');
  assert.equal(isCgroupFrozen(pid), true);
  const logs = (await second.ten(['logs', 'chill:a'])).stdout;
  assert.match(logs, /adopted frozen from the previous server/);

  const r = await through(second, 'a.chill.localhost', '/');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'hello from chill:a');
  assert.equal((await listed(second, 'chill:a'))?.pid, pid, 'thawed, not restarted');
  assert.equal(isCgroupFrozen(pid), false);
  assert.equal((await second.ten(['health', 'chill:a'])).stdout.trim(), 'healthy');
});

test('an instance adopted frozen that gets no request is still stopped at idle_timeout', async (t) => {
  const config = `${SETTINGS}${service('cold', 'idle_timeout = 12').replace('freeze_after = 3', 'freeze_after = 1')}`;
  const first = await startDaemon(t, { config, keepInstances: true });
  assert.equal((await first.ten(['spawn', 'cold:a'])).code, 0);
  const pid = (await listed(first, 'cold:a'))!.pid!;
  await waitForState(first, 'cold:a', 'frozen', 15_000);
  await first.crash();

  const second = await startDaemon(t, { config, dir: first.dir });
  await waitForState(second, 'cold:a', 'frozen', 15_000);
  assert.equal((await listed(second, 'cold:a'))?.pid, pid, 'adopted frozen');
  await waitForState(second, 'cold:a', 'idle', 30_000);
  await waitFor(() => !isAlive(pid), 10_000, 'the frozen process stopped at idle_timeout');
});

test('a record naming another instance\'s process (a reused pid) is not adopted, and that process is left alone', async (t) => {
  const config = `${SETTINGS}${service('app')}`;
  const first = await startDaemon(t, { config, keepInstances: true });
  for (const name of ['app:a', 'app:b']) assert.equal((await first.ten(['spawn', name])).code, 0);
  const [a, b] = [(await listed(first, 'app:a'))!.pid!, (await listed(first, 'app:b'))!.pid!];
  await touch(first, ['app:a', 'app:b']);
  await first.crash();
  // app:a's record now names app:b's leader, start time included: only its cgroup tells them apart.
  const db = new Database(join(first.dataDir, 'tenement.db'));
  db.prepare(`UPDATE instances SET (pid, start_time) = (SELECT pid, start_time FROM instances WHERE service = 'app' AND id = 'b')
    WHERE service = 'app' AND id = 'a'`).run();
  db.close();

  const second = await startDaemon(t, { config, dir: first.dir });
  const rows = await waitFor(async () => {
    const [ra, rb] = [await listed(second, 'app:a'), await listed(second, 'app:b')];
    return ra?.state === 'running' && rb?.state === 'running' ? { ra, rb } : undefined;
  }, 30_000, 'app:a and app:b running');
  assert.equal(rows.rb.pid, b, 'app:b adopted');
  assert.notEqual(rows.ra.pid, b, 'app:a did not take app:b\'s process');
  assert.ok(isAlive(b), 'app:b\'s process was not stopped as app:a\'s');
  assert.match(second.output(), new RegExp(`"instance":"app:a".*not adopted from the previous server: pid ${b} is no longer in its cgroup; started afresh`));
  // The real app:a process, whose record was lost, is still in app:a's cgroup: emptied with it.
  await waitFor(() => !isAlive(a), 10_000, 'the unrecorded app:a process gone');
});

test('namespace and sandbox instances are adopted with their cgroups too', async (t) => {
  const config = `${SETTINGS}${service('ns', 'isolation = "namespace"')}${service('box', 'isolation = "sandbox"')}`;
  const first = await startDaemon(t, { config, keepInstances: true });
  const pids = new Map<string, number>();
  for (const name of ['ns:a', 'box:a']) {
    const r = await first.ten(['spawn', name]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    await ask(first, `a.${name.split(':')[0]}.localhost`, `/setsid-hog?mb=${HOG_MB}`);
    pids.set(name, (await listed(first, name))!.pid!);
  }
  await touch(first, [...pids.keys()]);
  await first.crash();

  const second = await startDaemon(t, { config, dir: first.dir });
  for (const [name, pid] of pids) {
    const row = await waitFor(async () => {
      const now = await listed(second, name);
      return now !== undefined && ['running', 'frozen'].includes(now.state) ? now : undefined;
    }, 30_000, `${name} adopted`);
    assert.equal(row.pid, pid, `${name}: adopted, not restarted`);
    if (name === 'box:a') {
      // A new sandbox cleans up containers a crashed server left: not the adopted one (running,
      // not frozen, so it would die of that).
      await touch(second, ['box:a']);
      const spawned = await second.ten(['spawn', 'box:b']);
      assert.equal(spawned.code, 0, spawned.stderr);
      assert.equal((await through(second, 'a.box.localhost', '/')).status, 200, 'the adopted sandbox still answers');
      assert.equal((await listed(second, name))?.pid, pid, 'the adopted sandbox was not cleaned up');
    }
    await memoryAbove(second, name.split(':')[0]!, 'a', HOG_MB * 1048576);
    await freezesAndThaws(second, name, pid);
    assert.equal((await second.ten(['stop', name])).code, 0);
    await waitFor(() => !isAlive(pid), 15_000, `${name} stopped`);
  }
});
