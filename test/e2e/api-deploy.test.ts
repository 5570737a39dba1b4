// deploy and route over real HTTP: a healthy deploy gets its weight, a failed one leaves routing as
// it was and says why, route swaps both weights at once (and persists), /api/events streams changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { adminCall, instanceWeights, startDaemon, waitFor } from '../helpers/daemon.js';

// Version "bad" exits at once; every other version is the well-behaved fixture.
const CONFIG = `
[service.api]
command = "sh"
args = ["-c", "if [ \\"$TENEMENT_INSTANCE\\" = api:bad ]; then echo bad version >&2; exit 1; fi; exec node {apps}/ok.mjs"]
health = "/health"
startup_timeout = 5
restart = "never"
`;


test('deploy and route', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  assert.equal((await adminCall(d, 'POST', '/api/instances', { service: 'api', id: 'v1', wait: true })).status, 201);

  await t.test('/api/events streams the state changes of a spawn', async () => {
    const seen: string[] = [];
    const req = request({ host: '127.0.0.1', port: d.port, path: '/api/events', headers: { host: 'localhost', authorization: `Bearer ${d.token}` } });
    t.after(() => req.destroy());
    const opened = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => seen.push(chunk));
        resolve();
      });
      req.on('error', reject);
    });
    req.end();
    await opened;
    await waitFor(() => seen.join('').includes('retry:'), 5000, 'the stream to open');
    assert.equal((await adminCall(d, 'POST', '/api/instances', { service: 'api', id: 'side', wait: true })).status, 201);
    await waitFor(() => /event: state\ndata: \{[^\n]*"instance":"api:side"[^\n]*"to":"running"/.test(seen.join('')), 5000,
      () => `a state event for api:side in ${seen.join('')}`);
    await adminCall(d, 'DELETE', '/api/instances/api:side');
  });

  await t.test('a healthy deploy gets its weight; other versions are untouched', async () => {
    const r = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'v2', weight: 20, timeout: 10 });
    assert.equal(r.status, 200, r.body);
    const { instance } = JSON.parse(r.body) as { instance: { instance: string; weight: number; health: string } };
    assert.deepEqual([instance.instance, instance.weight, instance.health], ['api:v2', 20, 'healthy']);
    assert.deepEqual(await instanceWeights(d), { 'api:v1': 100, 'api:v2': 20 });
  });

  await t.test('a failed deploy leaves routing as it was and reports why', async () => {
    const r = await adminCall(d, 'POST', '/api/deploy', { process: 'api', version: 'bad', timeout_secs: 5 });
    assert.ok(r.status >= 400, r.body);
    const { error } = JSON.parse(r.body) as { error: { code: string; message: string } };
    assert.notEqual(error.code, 'internal');
    assert.match(error.message, /^deploy of api:bad failed: .*routing unchanged$/);
    const w = await instanceWeights(d);
    assert.equal(w['api:v1'], 100);
    assert.equal(w['api:v2'], 20);
    assert.equal(w['api:bad'] ?? 0, 0, 'the failed version gets no traffic');
  });

  await t.test('route moves all traffic in one step and the change persists', async () => {
    const missing = await adminCall(d, 'POST', '/api/route', { service: 'api', from: 'v1', to: 'v9' });
    assert.equal(missing.status, 404);
    assert.deepEqual([(await instanceWeights(d))['api:v1'], (await instanceWeights(d))['api:v2']], [100, 20], 'a failed route changes nothing');
    const r = await adminCall(d, 'POST', '/api/route', { service: 'api', from: 'v1', to: 'v2' });
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body) as { from: { weight: number }; to: { weight: number } };
    assert.deepEqual([body.from.weight, body.to.weight], [0, 100]);
    await d.stop();
    const again = await startDaemon(t, { config: CONFIG, dir: d.dir });
    const w = await instanceWeights(again);
    assert.deepEqual([w['api:v1'], w['api:v2']], [0, 100]);
  });
});
