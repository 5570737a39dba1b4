// A rollout's state is in the store: a server restarted (SIGTERM, start again) in the middle of a
// running rollout resumes it — the tenants are adopted, not restarted, the instances moved before
// stay moved — and it finishes, while `ten rollout` following it waits out the restart; a paused
// one stays paused until resumed; one whose instances were removed is aborted with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/net.js';
import { allRunning, answers, api, IDS, notesConfig, writeConfig } from './rollout-helpers.js';

const SIX = IDS.slice(0, 6);
interface Status { state: string; cohort: number; moved: number; reason: string | null; message: string | null }

const status = async (d: Daemon): Promise<Status> => (await api<Status>(d, '/api/rollouts/notes')).body;
const pids = async (d: Daemon): Promise<Map<string, number | null>> => new Map((await allRunning(d, SIX.length)).map((i) => [i.id, i.pid]));

async function assertServing(d: Daemon, versionOf: (id: string) => string): Promise<void> {
  const served = await answers(d, SIX);
  for (const id of SIX) assert.equal(served.get(id), `200 ${versionOf(id)} from notes:${id}`);
}

/** A port for the proxy above the default port_range (the port fence guards that range host-wide). */
async function proxyPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await freePort();
    if (port > 40000) return port;
  }
  throw new Error('no free port above 40000');
}

test('a server restart during a rollout resumes it, keeps a paused one paused, aborts one whose instances are gone', async (t) => {
  // The same port for every server, so `ten rollout` following the first one finds the next.
  const port = ['--port', String(await proxyPort())];
  const first = await startDaemon(t, { config: notesConfig('VERSION = "v1"', SIX), keepInstances: true, extraArgs: port });
  await allRunning(first, SIX.length);
  writeConfig(first, notesConfig('VERSION = "v2"', SIX));
  assert.equal((await first.ten(['reload'])).code, 0);

  // Cohort 1 (3 of 6) moves, then is judged for 4 s: the server is stopped meanwhile.
  const following = first.ten(['rollout', 'notes', '--cohorts', '50,100', '--interval', '4s']);
  await waitFor(async () => (await status(first)).moved === 3, 30_000, 'the first cohort moved');
  const before = await pids(first);
  assert.equal(await first.stop(), 0);

  const second = await startDaemon(t, { config: notesConfig('VERSION = "v2"', SIX), dir: first.dir, keepInstances: true, extraArgs: port });
  assert.deepEqual(await pids(second), before, 'the restart adopted every tenant');
  const resumed = await waitFor(async () => {
    const s = await status(second);
    return /^resumed after a server restart: judging cohort 1\/2 again from fresh counters$/.test(s.message ?? '') ? s : undefined;
  }, 20_000, 'the rollout resumed');
  assert.deepEqual([resumed.state, resumed.cohort, resumed.moved], ['running', 1, 3]);
  await waitFor(async () => (await status(second)).state === 'succeeded', 60_000, 'the rollout finished');
  // The CLI waited out the restart and followed the rollout to its end.
  const followed = await following;
  assert.equal(followed.code, 0, followed.stdout + followed.stderr);
  assert.match(followed.stdout, /^cohort 1\/2: notes:t0[0-2] moved \(3\/6\)$/m);
  assert.match(followed.stdout, /^resumed after a server restart: judging cohort 1\/2 again from fresh counters$/m);
  assert.match(followed.stdout, /^rolled out: 6\/6 instances on the new template$/m);
  const after = await pids(second);
  for (const id of SIX.slice(0, 3)) assert.equal(after.get(id), before.get(id), `${id}, moved before the restart, was not moved again`);
  for (const id of SIX.slice(3)) assert.notEqual(after.get(id), before.get(id), `${id} was moved after the restart`);
  await assertServing(second, () => 'v2');

  // Paused, then the server restarts: it stays paused, and resume finishes it.
  writeConfig(second, notesConfig('VERSION = "v3"', SIX));
  assert.equal((await second.ten(['reload'])).code, 0);
  assert.equal((await api(second, '/api/rollouts', 'POST', { service: 'notes', cohorts: [50, 100], interval: 1 })).status, 201);
  assert.equal((await api(second, '/api/rollouts/notes/pause', 'POST')).status, 200);
  await waitFor(async () => (await status(second)).moved === 3, 30_000, 'the first cohort moved');
  assert.equal(await second.stop(), 0);

  const third = await startDaemon(t, { config: notesConfig('VERSION = "v3"', SIX), dir: first.dir, keepInstances: true, extraArgs: port });
  await allRunning(third, SIX.length);
  const until = Date.now() + 3_000;
  await waitFor(async () => {
    const s = await status(third);
    assert.deepEqual([s.state, s.cohort, s.moved], ['paused', 1, 3], 'still paused after the restart');
    return Date.now() > until;
  }, 10_000);
  assert.equal((await third.ten(['rollout', 'resume', 'notes'])).code, 0);
  await waitFor(async () => (await status(third)).state === 'succeeded', 60_000, 'the resumed rollout finished');
  await assertServing(third, () => 'v3');

  // An instance of a paused rollout is removed; at the next start the rollout is aborted, saying why.
  writeConfig(third, notesConfig('VERSION = "v4"', SIX));
  assert.equal((await third.ten(['reload'])).code, 0);
  assert.equal((await api(third, '/api/rollouts', 'POST', { service: 'notes', cohorts: [50, 100], interval: 1 })).status, 201);
  assert.equal((await api(third, '/api/rollouts/notes/pause', 'POST')).status, 200);
  await waitFor(async () => (await status(third)).moved === 3, 30_000, 'the first cohort moved');
  assert.equal((await third.ten(['rm', 'notes:t05'])).code, 0);
  assert.equal(await third.stop(), 0);

  // The last server stops its instances when the test ends; its [instances] no longer names t05.
  const fourth = await startDaemon(t, { config: notesConfig('VERSION = "v4"', SIX.slice(0, 5)), dir: first.dir, extraArgs: port });
  const s = await waitFor(async () => {
    const now = await status(fourth);
    return now.state === 'aborted' ? now : undefined;
  }, 20_000, 'the rollout aborted');
  assert.equal(s.reason, 'notes:t05 was removed since the rollout began');
  const abortedStatus = await fourth.ten(['rollout', 'status', 'notes']);
  assert.match(abortedStatus.stdout, /^reason: notes:t05 was removed since the rollout began$/m);
  const served = await answers(fourth, SIX.slice(0, 5));
  for (const id of SIX.slice(0, 5)) assert.equal(served.get(id), `200 ${SIX.indexOf(id) < 3 ? 'v4' : 'v3'} from notes:${id}`);
});
