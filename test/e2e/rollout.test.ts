// `ten rollout` against a real server with 20 running instances: refusals say why (409 when there
// is nothing to roll out or one runs already, exit 2 for bad cohorts or interval); a good template
// reaches every instance cohort by cohort; pause stops advancing, resume goes on, abort leaves the
// moved ones moved, and a new rollout then moves the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { allRunning, answers, api, IDS, listed, notesConfig, trafficUntil, writeConfig } from './rollout-helpers.js';

interface Status { state: string; cohort: number; cohorts: number[]; moved: number; total: number; reason: string | null; updated_at: string }
interface ErrorBody { error: { code: string; message: string } }

const status = async (d: Daemon): Promise<Status> => (await api<Status>(d, '/api/rollouts/notes')).body;

test('ten rollout', async (t) => {
  const d = await startDaemon(t, { config: notesConfig('VERSION = "v1"') });
  await allRunning(d, IDS.length);

  await t.test('refusals: nothing outdated (409), unknown service or rollout, bad cohorts or interval (exit 2)', async () => {
    const nothing = await d.ten(['rollout', 'notes']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /^error: nothing to roll out: no running instance of notes is on an outdated template$/m);
    const viaApi = await api<ErrorBody>(d, '/api/rollouts', 'POST', { service: 'notes' });
    assert.equal(viaApi.status, 409);
    assert.equal(viaApi.body.error.code, 'conflict');

    assert.equal((await d.ten(['rollout', 'nope'])).code, 1);
    const none = await d.ten(['rollout', 'status', 'notes']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^error: no rollout of notes$/m);
    for (const [args, message] of [
      [['--cohorts', '50,10,100'], /invalid cohorts 50,10,100: each must be above the one before/],
      [['--cohorts', '1,10'], /invalid cohorts 1,10: the last one must be 100/],
      [['--cohorts', '1,ten'], /invalid cohorts "1,ten"/],
      [['--interval', 'soon'], /invalid interval "soon"/],
      [['--interval', '0.5s'], /invalid interval 0\.5 s: use 1 s to 1 day/],
    ] as const) {
      const r = await d.ten(['rollout', 'notes', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const unknownAction = await d.ten(['rollout', 'frob', 'notes']);
    assert.equal(unknownAction.code, 2);
    assert.match(unknownAction.stderr, /unknown rollout action "frob"/);
  });

  await t.test('a good template rolls out to all 20, cohort by cohort: none outdated after, all serve it', async () => {
    writeConfig(d, notesConfig('VERSION = "v2"'));
    assert.equal((await d.ten(['reload'])).code, 0);
    let finished = false;
    const load = trafficUntil(d, () => finished, 90_000);
    const r = await d.ten(['rollout', 'notes', '--interval', '1s']);
    finished = true;
    await load;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => / moved \(\d+\/20\)$/.test(l)).length, 20);
    // 1, 10, 50, 100 % of 20 instances: 1, 2, 10 and 20 moved once each cohort is done.
    assert.deepEqual(lines.filter((l) => / passed: /.test(l)).map((l) => l.slice(0, 10)), ['cohort 1/4', 'cohort 2/4', 'cohort 3/4', 'cohort 4/4']);
    for (const [cohort, moved] of [[1, 1], [2, 2], [3, 10], [4, 20]] as const) {
      assert.match(r.stdout, new RegExp(`^cohort ${cohort}/4: notes:t\\d\\d moved \\(${moved}/20\\)$`, 'm'));
      assert.doesNotMatch(r.stdout, new RegExp(`^cohort ${cohort}/4: notes:t\\d\\d moved \\(${moved + 1}/20\\)$`, 'm'));
    }
    assert.equal(lines.at(-1), 'rolled out: 20/20 instances on the new template');

    assert.ok((await listed(d)).every((i) => i.state === 'running' && !i.outdated));
    const served = await answers(d);
    for (const id of IDS) assert.equal(served.get(id), `200 v2 from notes:${id}`);
    const s = await status(d);
    assert.deepEqual([s.state, s.cohort, s.moved, s.total], ['succeeded', 4, 20, 20]);
    const text = await d.ten(['rollout', 'status', 'notes']);
    assert.match(text.stdout, /^notes: succeeded, cohort 4\/4 \(100 %\), 20\/20 moved, 1 s per cohort$/m);
    const log = await d.ten(['logs', 'notes:t05', '--limit', '50']);
    assert.match(log.stdout, /rollout: moved to the current template by the rollout \(cohort 3\/4\)/);
  });

  await t.test('pause stops advancing, resume goes on, abort keeps the moved ones moved', async () => {
    writeConfig(d, notesConfig('VERSION = "v3"'));
    assert.equal((await d.ten(['reload'])).code, 0);
    const started = await d.ten(['rollout', 'notes', '--cohorts', '10,50,100', '--interval', '2s', '--detach']);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^rolling out notes to 20 running instances in 3 cohorts/);
    const paused = await d.ten(['rollout', 'pause', 'notes']);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /^paused at cohort 1\/3/);

    // The restarts under way finish; nothing more moves over two intervals.
    const settled = await waitFor(async () => {
      const s = await status(d);
      return s.moved === 2 ? s : undefined;
    }, 30_000, 'the first cohort moved');
    assert.equal(settled.state, 'paused');
    const until = Date.now() + 4_000;
    await waitFor(async () => {
      const s = await status(d);
      assert.deepEqual([s.state, s.cohort, s.moved], ['paused', 1, 2], 'a paused rollout does not advance');
      return Date.now() > until;
    }, 10_000);
    const shown = await d.ten(['rollout', 'status', 'notes']);
    assert.match(shown.stdout, /^notes: paused, cohort 1\/3 \(10 %\), 2\/20 moved, 2 s per cohort$/m);
    const again = await api<ErrorBody>(d, '/api/rollouts', 'POST', { service: 'notes' });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /a rollout of notes is already paused \(cohort 1\/3, 2\/20 moved\)/);
    const canaryMeanwhile = await api<ErrorBody>(d, '/api/deploy', 'POST', { service: 'notes', version: 'v9', canary: [50, 100] });
    assert.equal(canaryMeanwhile.status, 409, 'no canary while a rollout of the service is under way');
    assert.match(canaryMeanwhile.body.error.message, /^the rollout of notes \(paused\) is in progress: one change at a time per service/);
    assert.equal((await api(d, '/api/instances/notes:v9', 'GET')).status, 404, 'the refused canary started nothing');

    const resumed = await d.ten(['rollout', 'resume', 'notes']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^resumed at cohort 1\/3$/m);
    // Paused again while cohort 2 (10 moved) is judged, then aborted.
    await waitFor(async () => (await status(d)).moved >= 10, 30_000, 'the second cohort moved');
    assert.equal((await api<Status>(d, '/api/rollouts/notes/pause', 'POST')).status, 200);
    const aborted = await d.ten(['rollout', 'abort', 'notes']);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(aborted.stdout, /^aborted at cohort 2\/3: 10 instance\(s\) stay on the new template, the others on their old one$/m);
    const s = await status(d);
    assert.deepEqual([s.state, s.moved, s.reason], ['aborted', 10, 'aborted by the operator']);
    const resumeAborted = await d.ten(['rollout', 'resume', 'notes']);
    assert.equal(resumeAborted.code, 1);
    assert.match(resumeAborted.stderr, /cannot resume the rollout of notes: it is aborted/);

    const now = await listed(d);
    const served = await answers(d);
    assert.equal(now.filter((i) => !i.outdated).length, 10);
    for (const i of now) assert.equal(served.get(i.id), `200 ${i.outdated ? 'v2' : 'v3'} from notes:${i.id}`);

    // A new rollout moves the rest.
    const rest = await d.ten(['rollout', 'notes', '--cohorts', '100', '--interval', '1s']);
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stdout, /^rolling out notes to 10 running instances in 1 cohort \(100 %\), 1 s each$/m);
    assert.ok((await listed(d)).every((i) => !i.outdated));
  });
});
