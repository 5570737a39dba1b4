// Remove, stop --hold and shutdown against wakes, with real processes: once they begin, no wake
// starts a process for the instance, and one already under way is stopped and reaped before
// they return. The app ignores SIGTERM, so every stop lasts stop_timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TenementError } from '../core/errors.js';
import { processesWithDataDir } from '../../test/helpers/processes.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';

const APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps');

const CONFIG = `
[settings]
port_range = [24000, 24999]

[service.sticky]
command = "node ${join(APPS, 'ignore-sigterm.mjs')}"
stop_timeout = 0.3
startup_timeout = 5
`;

interface Tracked {
  readonly promise: Promise<unknown>;
  /** How it has settled once every callback queued so far has run. */
  settlement(): Promise<'resolved' | 'rejected' | 'pending'>;
}

function track(promise: Promise<unknown>): Tracked {
  let outcome: 'resolved' | 'rejected' | 'pending' = 'pending';
  promise.then(() => { outcome = 'resolved'; }, () => { outcome = 'rejected'; });
  return {
    promise,
    settlement: async () => {
      await new Promise((r) => setImmediate(r));
      return outcome;
    },
  };
}

test('a wake that arrives while rm stops the instance starts nothing, now or later', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const dataDir = join(h.dir, 'data', 'sticky', 'alice');
  await h.supervisor.spawn('sticky', 'alice', { wait: true });
  const handle = h.supervisor.get('sticky', 'alice')!;

  const removing = h.supervisor.remove('sticky', 'alice');
  // The proxy still holds the handle and a request arrives while the stop waits on the app.
  const wake = track(h.supervisor.ensureReady(handle));
  await removing;
  assert.equal(await wake.settlement(), 'rejected');
  await assert.rejects(wake.promise, (e: TenementError) => e.code === 'unavailable');
  // A request that looked the instance up before the rm comes in after it.
  await assert.rejects(h.supervisor.ensureReady(handle), (e: TenementError) => e.code === 'unavailable');
  assert.deepEqual(processesWithDataDir(dataDir), []);
  assert.equal(h.supervisor.get('sticky', 'alice'), undefined);
  assert.ok(!h.lifecycle.some((e) => e.instance === 'sticky:alice' && e.kind === 'wake'), 'no wake was logged');
});

test('rm during a wake stops the waking process and reaps it before it returns', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const dataDir = join(h.dir, 'data', 'sticky', 'bob');
  await h.supervisor.spawn('sticky', 'bob', { wait: true });
  await h.supervisor.stop('sticky', 'bob');
  const handle = h.supervisor.get('sticky', 'bob')!;

  const wake = track(h.supervisor.ensureReady(handle));
  await h.supervisor.remove('sticky', 'bob');
  assert.equal(await wake.settlement(), 'rejected', 'the wake is over when rm returns');
  assert.deepEqual(processesWithDataDir(dataDir), []);
});

test('stop --hold during a wake: the wake is cancelled before the stop returns and nothing runs', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const dataDir = join(h.dir, 'data', 'sticky', 'carol');
  await h.supervisor.spawn('sticky', 'carol', { wait: true });
  await h.supervisor.stop('sticky', 'carol');
  const handle = h.supervisor.get('sticky', 'carol')!;

  const wake = track(h.supervisor.ensureReady(handle));
  const info = await h.supervisor.stop('sticky', 'carol', { hold: true });
  assert.equal(await wake.settlement(), 'rejected', 'the wake is over when the stop returns');
  assert.deepEqual([info.state, info.pid], ['held', null]);
  assert.deepEqual(processesWithDataDir(dataDir), []);
  await assert.rejects(h.supervisor.ensureReady(handle), (e: TenementError) => e.code === 'invalid_state');
  assert.deepEqual(processesWithDataDir(dataDir), []);
});

test('after shutdown begins, a request can no longer wake an instance', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const dataDir = join(h.dir, 'data', 'sticky', 'dave');
  await h.supervisor.spawn('sticky', 'dave', { wait: true });
  const handle = h.supervisor.get('sticky', 'dave')!;

  const shutdown = h.supervisor.shutdown();
  const wake = track(h.supervisor.ensureReady(handle));
  await shutdown;
  assert.equal(await wake.settlement(), 'rejected');
  assert.deepEqual(processesWithDataDir(dataDir), []);
  // Shutdown keeps the registration and what the user wanted for the next boot.
  assert.equal(h.supervisor.info('sticky', 'dave').state, 'stopped');
  const row = h.db.prepare('SELECT desired_state FROM instances WHERE service = ? AND id = ?').get('sticky', 'dave') as { desired_state: string };
  assert.equal(row.desired_state, 'running');
});
