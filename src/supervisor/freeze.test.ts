// The supervisor's frozen tier with real processes in real cgroups: under a memory floor frozen
// instances are stopped longest-frozen first, only as many as needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeTestGroups } from '../../test/helpers/cgroups.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CgroupLimits } from '../runtime/cgroups.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';

const APP = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps'), 'wake-app.mjs');

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('under the memory floor frozen instances are stopped longest-frozen first, until memory is back', async (t) => {
  const parent = `tenement-test-${process.pid}-floor`;
  const limits = new CgroupLimits({ parent });
  t.after(() => removeTestGroups(limits, parent));
  // Memory is short (500 MiB) until `stopsNeeded` instances have been stopped.
  let stopsNeeded = 0;
  const stops = (): string[] => h.lifecycle.filter((e) => e.kind === 'idle').map((e) => e.instance);
  const h = await startSupervisor(t, `[settings]\nport_range = [24000, 24999]\nmin_free_mb = 1000\n[service.app]\ncommand = "node ${APP}"\nhealth = "/health"\nfreeze_after = 0.3\nidle_timeout = 0\nstop_timeout = 2\n`, {
    limits, memAvailableMb: async () => (stops().length < stopsNeeded ? 500 : 4096),
  });
  const { supervisor } = h;
  const state = (id: string): string => supervisor.info('app', id).state;
  for (const id of ['first', 'second', 'third']) {
    await supervisor.spawn('app', id, { wait: true });
    await until(`app:${id} to freeze`, () => state(id) === 'frozen');
  }

  stopsNeeded = 1;
  await until('one stop', () => stops().length === 1);
  assert.deepEqual(stops(), ['app:first']);
  assert.match(h.lifecycle.find((e) => e.kind === 'idle')!.message, /^stopped while frozen: 500 MiB of memory available, below min_free_mb \(1000\)$/);
  assert.equal(state('second'), 'frozen');
  assert.equal(state('third'), 'frozen');

  stopsNeeded = 3;
  await until('all stopped', () => stops().length === 3);
  assert.deepEqual(stops(), ['app:first', 'app:second', 'app:third']);
  assert.deepEqual(['first', 'second', 'third'].map(state), ['idle', 'idle', 'idle']);
});
