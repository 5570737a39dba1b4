// `backoff_base_ms = 0` (as the original tenement's own e2e config sets it): a crashed instance is
// restarted at once, every time, until max_restarts is used up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { waitFor } from '../../test/helpers/daemon.js';

const APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps');

test('backoff_base_ms = 0 restarts a crashed instance at once', async (t) => {
  const h = await startSupervisor(t, `[settings]
port_range = [24000, 24999]
backoff_base_ms = 0
max_restarts = 3
restart_window = 60

[service.api]
command = "node ${join(APPS, 'crash-after.mjs')}"
health = "/health"
stop_timeout = 2

[service.api.env]
CRASH_AFTER_MS = "100"
`);
  await h.supervisor.spawn('api', 'a', { wait: true });
  await waitFor(() => h.supervisor.info('api', 'a').state === 'failed', 20_000, 'the crash loop to end in failed');
  const restarts = h.lifecycle.filter((e) => e.kind === 'restart').map((e) => /restarting in (\d+) ms/.exec(e.message)?.[1]);
  assert.deepEqual(restarts, ['0', '0', '0']);
  assert.equal(h.lifecycle.filter((e) => e.kind === 'spawn').length, 4);
});
