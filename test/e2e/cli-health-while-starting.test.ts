// An instance that is starting while its health check answers with an error shows the probe's
// result (`unhealthy (500)`) in `ten health`, the HEALTH column and the API, instead of
// `starting` for the whole startup_timeout, so an operator sees why it is not up yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, waitFor } from '../helpers/daemon.js';

const CONFIG = `
[service.flaky]
command = "node {apps}/fail-health-after-n.mjs"
health = "/health"
startup_timeout = 60

[service.flaky.env]
FAIL_HEALTH_AFTER = "0"
`;

test('a start whose health check answers 500 shows unhealthy (500)', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  const spawned = await d.ten(['spawn', 'flaky:a', '--no-wait']);
  assert.equal(spawned.code, 0, spawned.stderr);

  const health = await waitFor(async () => {
    const r = await d.ten(['health', 'flaky:a']);
    return r.stdout === 'unhealthy (500)\n' ? r : undefined;
  }, 20_000, 'ten health to report the failing probe');
  assert.equal(health.code, 0);

  const [info] = JSON.parse((await d.ten(['ps', '--json'])).stdout) as Array<Record<string, unknown>>;
  assert.equal(info?.state, 'starting', 'still within startup_timeout');
  assert.equal(info?.health, 'unhealthy');
  assert.equal(info?.health_check_status, 500);
  const row = (await d.ten(['ps'])).stdout.split('\n').find((line) => line.startsWith('flaky:a'));
  assert.match(row ?? '', /^flaky:a\s+starting\s+unhealthy \(500\)\s+\d+\s+\d+/);

  const api = await d.http('/api/instances/flaky:a/health', { headers: { authorization: `Bearer ${d.token}` } });
  assert.deepEqual(JSON.parse(api.body), { instance: 'flaky:a', health: 'unhealthy', health_check_status: 500, state: 'starting' });

  assert.equal((await d.ten(['stop', 'flaky:a'])).code, 0);
  const stopped = await d.ten(['health', 'flaky:a']);
  assert.equal(stopped.stdout, 'stopped\n', 'a stopped instance carries no probe result');
});
