// Limits and isolation through the real server: an instance over memory_limit_mb is OOM-killed,
// reported (event, log line, metric) and restarted while the server keeps serving; namespace and
// sandbox instances serve HTTP through the proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, waitFor } from '../helpers/daemon.js';

test('an app allocating 4x its memory limit is OOM-killed, reported, restarted, and the server survives', async (t) => {
  const d = await startDaemon(t, { config: `
[settings]
backoff_base_ms = 200
max_restarts = 5
[service.hog]
command = "node {apps}/iso-alloc.mjs"
memory_limit_mb = 64
startup_timeout = 10
[service.hog.env]
ALLOC_MB = "256"
` });
  const spawned = await d.ten(['spawn', 'hog:a', '--no-wait']);
  assert.equal(spawned.code, 0, spawned.stderr);
  const auth = { authorization: `Bearer ${d.token}` };
  const events = await waitFor(async () => {
    const r = await d.http('/api/logs?id=a&stream=event&limit=100', { headers: auth });
    const lines = (JSON.parse(r.body) as Array<{ line: string }>).map((l) => l.line);
    return lines.some((l) => l.startsWith('oom: ')) && lines.some((l) => l.startsWith('restart: ')) ? lines : undefined;
  }, 30_000, 'an oom event and a restart');
  assert.ok(events.some((l) => /^oom: was killed for exceeding its memory limit \(OOM\)$/.test(l)), events.join('\n'));
  const metrics = (await d.http('/metrics', { headers: auth })).body;
  assert.match(metrics, /^tenement_oom_kills_total\{service="hog",instance="a"\} [1-9]/m);
  assert.equal((await d.http('/health')).status, 200, 'the server is still up');
});

test('namespace and sandbox instances answer through the proxy', async (t) => {
  const d = await startDaemon(t, { config: `
[service.ns]
command = "node {apps}/ok.mjs"
health = "/health"
isolation = "namespace"
[service.box]
command = "node {apps}/ok.mjs"
health = "/health"
isolation = "sandbox"
startup_timeout = 30
` });
  for (const name of ['ns:a', 'box:a']) {
    const r = await d.ten(['spawn', name]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const res = await d.http('/', { host: `a.${name.split(':')[0]}.localhost` });
    assert.equal(res.status, 200);
    assert.equal(res.body, `hello from ${name}`);
  }
  const ps = JSON.parse((await d.ten(['ps', '--json'])).stdout) as Array<{ instance: string; isolation: string }>;
  assert.deepEqual(ps.map((i) => `${i.instance} ${i.isolation}`), ['box:a sandbox', 'ns:a namespace']);
});
