import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { APP_SERVICE, instances, stateOf, through, waitForAnswer, waitForState } from './proxy-helpers.js';

const CONFIG = `
${APP_SERVICE('notes', 'idle_timeout = 1')}
${APP_SERVICE('crashy', 'restart = "always"')}
[settings]
backoff_base_ms = 100
backoff_max_ms = 200
max_restarts = 100

[instances]
notes = ["alice", "bob"]
crashy = ["one"]
`;

test('scale to zero through the real server: idle, wake, single flight, open streams, crashes', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  await Promise.all(['alice.notes.localhost', 'bob.notes.localhost', 'one.crashy.localhost'].map((h) => waitForAnswer(d, h)));

  await t.test('an instance idles after idle_timeout and wakes on the next request with its data intact', async () => {
    const stored = await through(d, 'alice.notes.localhost', '/data', { method: 'POST', body: 'remember me' });
    assert.equal(stored.status, 200);
    await waitForState(d, 'notes:alice', 'idle');
    const r = await through(d, 'alice.notes.localhost', '/data');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { value: 'remember me' });
  });

  await t.test('50 concurrent requests to an idle instance all succeed and share one process', async () => {
    await waitForState(d, 'notes:bob', 'idle');
    const replies = await Promise.all(Array.from({ length: 50 }, () => through(d, 'bob.notes.localhost', '/whoami')));
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    const pids = new Set(replies.map((r) => (JSON.parse(r.body.toString()) as { pid: number }).pid));
    assert.equal(pids.size, 1, `answered by ${pids.size} processes`);
    const row = (await instances(d)).find((i) => i.instance === 'notes:bob')!;
    assert.equal(row.pid, [...pids][0]);
  });

  await t.test('an open SSE stream keeps its instance from idling; closing it lets it idle', async () => {
    const req = request({ host: '127.0.0.1', port: d.port, path: '/sse', agent: false, headers: { host: 'alice.notes.localhost' } });
    req.on('error', () => undefined);
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let ticks = 0;
    res.on('data', (c: Buffer) => { ticks += (c.toString().match(/tick/g) ?? []).length; });
    // Ten ticks are 2 s of stream, twice the idle timeout.
    await waitFor(() => ticks >= 10, 20_000, 'ten SSE ticks');
    assert.equal(await stateOf(d, 'notes:alice'), 'running');
    req.destroy();
    await waitForState(d, 'notes:alice', 'idle');
  });

  await t.test('a crash mid-traffic is absorbed: requests succeed or get 502/503, none hangs', async () => {
    const statuses: number[] = [];
    const stopAt = Date.now() + 3000;
    let crashed = false;
    const workers = Array.from({ length: 4 }, async () => {
      while (Date.now() < stopAt) {
        if (!crashed) {
          crashed = true;
          await through(d, 'one.crashy.localhost', '/crash', { timeoutMs: 20_000 }).catch(() => undefined);
          continue;
        }
        const r = await through(d, 'one.crashy.localhost', '/whoami', { timeoutMs: 20_000 });
        statuses.push(r.status);
      }
    });
    await Promise.all(workers);
    assert.ok(statuses.length > 0);
    for (const s of statuses) assert.ok(s === 200 || s === 502 || s === 503, `unexpected status ${s}`);
    await waitForAnswer(d, 'one.crashy.localhost');
    const row = (await instances(d)).find((i) => i.instance === 'crashy:one')!;
    assert.ok(row.restarts >= 1, 'the crash was not noticed');
  });
});
