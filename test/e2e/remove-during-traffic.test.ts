// `ten rm` and `ten stop --hold` while requests keep arriving: once they begin, no request may
// wake a process for the instance, and a wake already under way is stopped before they return.
// The app ignores SIGTERM, so each stop takes stop_timeout and the window for a wake is wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import type { Daemon } from '../helpers/daemon.js';
import { processesWithDataDir } from '../helpers/processes.js';
import { through } from './proxy-helpers.js';

const CONFIG = `
[service.sticky]
command = "node {apps}/ignore-sigterm.mjs"
stop_timeout = 0.3
startup_timeout = 10

[instances]
sticky = ["alice", "bob"]
`;

interface Hammer {
  readonly statuses: Map<number, number>;
  /** Requests answered so far. */
  count(): number;
  stop(): Promise<void>;
}

/** `workers` loops of GETs to `host`, each bounded to `max` requests, until stop(). */
function hammer(d: Daemon, host: string, workers = 8, max = 3000): Hammer {
  const statuses = new Map<number, number>();
  let running = true;
  let answered = 0;
  const loops = Array.from({ length: workers }, async () => {
    for (let i = 0; running && i < max; i++) {
      const r = await through(d, host, '/', { timeoutMs: 15_000 });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      answered++;
    }
  });
  return {
    statuses,
    count: () => answered,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function api(d: Daemon, method: string, path: string): Promise<number> {
  const r = await d.http(path, { method, headers: { authorization: `Bearer ${d.token}` } });
  return r.status;
}

test('rm and stop --hold under concurrent traffic leave no process behind, also after shutdown', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  const aliceDir = join(d.dataDir, 'sticky', 'alice');
  const bobDir = join(d.dataDir, 'sticky', 'bob');
  await waitFor(async () => (await through(d, 'alice.sticky.localhost', '/').catch(() => ({ status: 0 }))).status === 200, 20_000, 'alice answering');
  await waitFor(async () => (await through(d, 'bob.sticky.localhost', '/').catch(() => ({ status: 0 }))).status === 200, 20_000, 'bob answering');

  await t.test('rm while 8 clients hammer the instance: no process of it is left', async () => {
    const load = hammer(d, 'alice.sticky.localhost');
    await waitFor(() => load.count() >= 50, 20_000, '50 requests answered before the rm');
    assert.equal(await api(d, 'DELETE', '/api/instances/sticky:alice'), 200);
    // Keep the load on after the rm returned: any request may still try to wake it.
    const after = load.count();
    await waitFor(() => load.count() >= after + 200, 30_000, '200 more requests after the rm');
    await load.stop();
    assert.deepEqual([...load.statuses.keys()].filter((s) => s !== 200 && s !== 404 && s !== 502 && s !== 503), [], 'only 200 before and 404/502/503 during or after');
    assert.ok((load.statuses.get(404) ?? 0) > 0, 'requests after the rm get 404');
    assert.deepEqual(processesWithDataDir(aliceDir), [], 'a process of the removed instance is still running');
    assert.equal(await api(d, 'GET', '/api/instances/sticky:alice'), 404);
  });

  await t.test('stop --hold while 8 clients hammer the instance: it stays down with no process', async () => {
    const load = hammer(d, 'bob.sticky.localhost');
    await waitFor(() => load.count() >= 50, 20_000, '50 requests answered before the stop');
    assert.equal(await api(d, 'POST', '/api/instances/sticky:bob/stop?hold=true'), 200);
    const after = load.count();
    await waitFor(() => load.count() >= after + 200, 30_000, '200 more requests after the stop');
    await load.stop();
    assert.ok((load.statuses.get(503) ?? 0) > 0, 'requests to the held instance get 503');
    assert.deepEqual(processesWithDataDir(bobDir), [], 'a process of the held instance is running');
    const info = JSON.parse((await d.http('/api/instances/sticky:bob', { headers: { authorization: `Bearer ${d.token}` } })).body) as { state: string; pid: number | null };
    assert.deepEqual([info.state, info.pid], ['held', null]);
  });

  await t.test('after the server stops, no process of either instance survives', async () => {
    assert.equal(await d.stop(), 0);
    assert.deepEqual([...processesWithDataDir(aliceDir), ...processesWithDataDir(bobDir)], []);
  });
});
