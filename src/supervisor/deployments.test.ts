// Deploy and route swap on the real supervisor: a version gets traffic only once healthy, a failed
// or slow one leaves routing as it was, and a swap refuses a held target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TenementError } from '../core/errors.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { waitFor } from '../../test/helpers/wait.js';
import { Deployments } from './deployments.js';

const APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps');

// Version "bad" exits at once, "slow" listens after 5 s; every other version is the ok app.
const CONFIG = `
[settings]
port_range = [24000, 24999]

[service.api]
command = "sh"
args = ["-c", """
case "$TENEMENT_INSTANCE" in
  api:bad) echo bad version >&2; exit 1 ;;
  api:slow) START_DELAY_MS=5000 exec node ${join(APPS, 'slow-start.mjs')} ;;
  *) exec node ${join(APPS, 'ok.mjs')} ;;
esac"""]
health = "/health"
startup_timeout = 10
stop_timeout = 2
restart = "never"
`;

const silent = { warn: () => undefined };

test('a deployed version gets its weight only after it is healthy', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const deployments = new Deployments(h.supervisor, silent);
  const order: string[] = [];
  h.events.on('weight', (e) => { if (e.instance === 'api:v2') order.push(`weight ${e.weight}`); });
  h.events.on('lifecycle', (e) => { if (e.instance === 'api:v2' && e.kind === 'ready') order.push('ready'); });
  const info = await deployments.deploy({ service: 'api', version: 'v2', weight: 30, timeoutMs: 10_000 });
  assert.deepEqual([info.instance, info.weight, info.health], ['api:v2', 30, 'healthy']);
  assert.deepEqual(order, ['weight 0', 'ready', 'weight 30']);
});

test('a failed deploy says why, stops the new version and leaves the weights alone', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const deployments = new Deployments(h.supervisor, silent);
  await h.supervisor.spawn('api', 'v1', { wait: true });
  await assert.rejects(deployments.deploy({ service: 'api', version: 'bad', weight: 100, timeoutMs: 10_000 }), (e: TenementError) => {
    assert.equal(e.code, 'spawn_failed');
    assert.match(e.message, /^deploy of api:bad failed: api:bad exited with code 1 before it was ready; routing unchanged$/);
    assert.equal(e.hint, 'see `ten logs api:bad`');
    return true;
  });
  await waitFor(() => h.supervisor.info('api', 'bad').state === 'stopped', 5000, 'the failed version to be stopped');
  assert.equal(h.supervisor.info('api', 'bad').weight, 0);
  assert.equal(h.supervisor.info('api', 'v1').weight, 100);
});

test('a deploy not healthy within its timeout fails with startup_timeout', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const deployments = new Deployments(h.supervisor, silent);
  await assert.rejects(deployments.deploy({ service: 'api', version: 'slow', weight: 100, timeoutMs: 300 }), (e: TenementError) => {
    assert.equal(e.code, 'startup_timeout');
    assert.equal(e.message, 'deploy of api:slow failed: api:slow was not healthy within 0.3 s; routing unchanged');
    return true;
  });
  assert.equal(h.supervisor.info('api', 'slow').weight, 0);
});

test('a deploy to an unknown service names the known ones', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const deployments = new Deployments(h.supervisor, silent);
  await assert.rejects(deployments.deploy({ service: 'web', version: 'v1', weight: 100, timeoutMs: 1000 }), (e: TenementError) => {
    assert.equal(e.code, 'service_not_found');
    assert.equal(e.hint, 'services: api');
    return true;
  });
});

test('a route swap moves all weight at once, and refuses a held target without changing anything', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const deployments = new Deployments(h.supervisor, silent);
  await h.supervisor.spawn('api', 'v1', { wait: true });
  await h.supervisor.spawn('api', 'v2', { weight: 0, wait: true });
  await h.supervisor.stop('api', 'v2', { hold: true });
  assert.throws(() => deployments.route({ service: 'api', from: 'v1', to: 'v2' }), (e: TenementError) => {
    assert.equal(e.code, 'invalid_state');
    assert.equal(e.message, 'cannot route to api:v2: it is held');
    return true;
  });
  assert.deepEqual([h.supervisor.info('api', 'v1').weight, h.supervisor.info('api', 'v2').weight], [100, 0]);
  await h.supervisor.start('api', 'v2', { wait: true });
  const swapped = deployments.route({ service: 'api', from: 'v1', to: 'v2' });
  assert.deepEqual([swapped.from.weight, swapped.to.weight], [0, 100]);
  assert.throws(() => deployments.route({ service: 'api', from: 'v1', to: 'v9' }), (e: TenementError) => e.code === 'instance_not_found');
});
