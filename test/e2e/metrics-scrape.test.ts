// /metrics and /api/telemetry against a real server: auth, `promtool check metrics`, the request
// counter following traffic, removed instances' series disappearing, public_metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startDaemon, waitFor, type Daemon, type HttpResult } from '../helpers/daemon.js';

const CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
`;

async function scrape(d: Daemon, token: string | null = d.token): Promise<HttpResult> {
  return d.http('/metrics', { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics is Prometheus text that follows traffic and forgets removed instances', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  for (const id of ['alice', 'bob']) assert.equal((await d.ten(['spawn', `notes:${id}`])).code, 0);

  await t.test('needs the admin token', async () => {
    assert.equal((await scrape(d, null)).status, 401);
    const tenant = (await d.ten(['--data-dir', d.dataDir, 'token-gen', '--tenant', 'alice'])).stdout.trim();
    assert.equal((await scrape(d, tenant)).status, 403);
  });

  await t.test('passes promtool check metrics', async () => {
    await d.http('/', { host: 'alice.notes.localhost' });
    const r = await scrape(d);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.equal(value(r.body, 'tenement_instances{state="running"}'), 2);
  });

  await t.test('the request counter moves with traffic', async () => {
    const series = 'tenement_requests_total{service="notes",instance="alice",status="2xx"}';
    const before = value((await scrape(d)).body, series) ?? 0;
    for (let i = 0; i < 5; i++) assert.equal((await d.http('/', { host: 'alice.notes.localhost' })).status, 200);
    const after = await waitFor(async () => {
      const n = value((await scrape(d)).body, series) ?? 0;
      return n >= before + 5 ? n : undefined;
    }, 5_000, 'the counter to count five more requests');
    assert.equal(after, before + 5);
    const body = (await scrape(d)).body;
    assert.ok((value(body, 'tenement_request_duration_seconds_count{service="notes",instance="alice",status="2xx"}') ?? 0) >= 5);
  });

  await t.test('memory and CPU of each instance are sampled in the background', async () => {
    const memory = await waitFor(async () => value((await scrape(d)).body, 'tenement_instance_memory_bytes{service="notes",instance="alice"}'), 15_000, 'a memory sample');
    assert.ok(memory > 1_000_000, `alice uses ${memory} bytes`);
  });

  await t.test('telemetry summarises each instance', async () => {
    const r = await d.http('/api/telemetry', { headers: { authorization: `Bearer ${d.token}` } });
    const alice = (JSON.parse(r.body) as Array<Record<string, unknown>>).find((e) => e.instance === 'notes:alice');
    assert.ok(alice !== undefined);
    assert.ok((alice.requests as number) >= 6);
    assert.equal(typeof alice.p95_latency_ms, 'number');
    assert.equal(alice.health, 'healthy');
  });

  await t.test('a removed instance\'s series disappear', async () => {
    await d.http('/', { host: 'bob.notes.localhost' });
    assert.match((await scrape(d)).body, /instance="bob"/);
    assert.equal((await d.ten(['rm', 'notes:bob'])).code, 0);
    const body = (await scrape(d)).body;
    assert.doesNotMatch(body, /instance="bob"/);
    assert.equal(value(body, 'tenement_instances{state="running"}'), 1);
  });
});

test('public_metrics = true opens /metrics to scrapers without a token', async (t) => {
  const d = await startDaemon(t, { config: `[settings]\npublic_metrics = true\n${CONFIG}` });
  const r = await scrape(d, null);
  assert.equal(r.status, 200);
  assert.match(r.body, /^# HELP tenement_instances /m);
});
