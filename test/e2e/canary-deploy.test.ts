// Canary deploys over real HTTP and the real CLI, under a keep-alive load through the proxy: a
// version that answers 500 to one request in five is rolled back by itself and the stable version
// keeps all the traffic; a good one is promoted with no request failing on the way; a canary a
// server restart interrupts goes on after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { adminCall, instanceWeights, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';

// Version "bad" answers 500 to every 5th request (its health is fine), "sick" starts failing its
// health checks after 3, "broken" exits at once; the others never fail. A small min_requests keeps
// the steps short; a loose p95 ratio keeps a loaded CI host from failing a good version on
// latency, which this test does not judge.
const CONFIG = `
[settings]
health_check_interval = 0.5

[service.api]
command = "sh"
args = ["-c", "case $TENEMENT_INSTANCE in api:bad) export ERROR_EVERY=5;; api:sick) exec node {apps}/fail-health-after-n.mjs;; api:broken) exit 1;; esac; exec node {apps}/error-share.mjs"]
health = "/health"
startup_timeout = 5
restart = "never"

[service.api.rollout]
min_requests = 10
max_error_rate = 0.05
max_p95_ratio = 50
`;

interface CanaryStatus {
  service: string; version: string; instance: string; state: string; steps: number[]; step: number; percent: number;
  interval_s: number; stable: Record<string, number>; reason: string | null; verdicts: string[];
}


async function canaryOf(d: Daemon, service: string): Promise<CanaryStatus> {
  const r = await adminCall(d, 'GET', `/api/deploys/${service}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as CanaryStatus;
}

async function decided(d: Daemon, service: string): Promise<CanaryStatus> {
  return waitFor(async () => {
    const c = await canaryOf(d, service);
    return c.state === 'promoted' || c.state === 'rolled_back' ? c : undefined;
  }, 60_000, `the canary of ${service} to be decided`);
}

/** Answers per instance (from the body) and failures (non-200 or connection errors). */
interface LoadResult { byInstance: Record<string, number>; failures: string[]; requests: number }

/**
 * Keep-alive GETs to api.localhost over 4 connections until `stop` is called or `max` requests
 * (default 20 000) are sent, for at most 90 s; `finished` resolves when it ends by itself.
 */
function loadLoop(port: number, max = 20_000): { stop: () => Promise<LoadResult>; finished: Promise<LoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const result: LoadResult = { byInstance: {}, failures: [], requests: 0 };
  const deadline = Date.now() + 90_000;
  let stopped = false;
  const one = (): Promise<void> => new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, headers: { host: 'api.localhost' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const instance = /^hello from (\S+)$/.exec(body)?.[1] ?? '?';
        result.byInstance[instance] = (result.byInstance[instance] ?? 0) + 1;
        if (res.statusCode !== 200) result.failures.push(`${res.statusCode} from ${instance}`);
        resolve();
      });
    });
    req.on('error', (err) => {
      result.failures.push(err.message);
      resolve();
    });
    req.end();
  });
  const worker = async (): Promise<void> => {
    while (!stopped && result.requests < max && Date.now() < deadline) {
      result.requests++;
      await one();
    }
  };
  const finished = Promise.all([worker(), worker(), worker(), worker()]).then(() => {
    agent.destroy();
    return result;
  });
  return {
    stop: async () => {
      stopped = true;
      return finished;
    },
    finished,
  };
}

test('canary deploys', { timeout: 150_000 }, async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  assert.equal((await adminCall(d, 'POST', '/api/instances', { service: 'api', id: 'v1', wait: true })).status, 201);

  await t.test('a version answering 500 to 20 % of requests is rolled back by itself; v1 keeps all traffic', async () => {
    const load = loadLoop(d.port);
    const cli = await d.ten(['deploy', 'api:bad', '--canary', '10,50,100', '--interval', '1.5s']);
    const during = await load.stop();
    assert.equal(cli.code, 1, `${cli.stdout}${cli.stderr}`);
    const lines = cli.stderr.trim().split('\n');
    assert.equal(lines.length, 1, cli.stderr);
    assert.match(lines[0]!, /^rolled back api:bad: step 1 \(10 %\): error rate \d+\.\d % \(\d+ of \d+\) against 0\.0 % for the others; max_error_rate is 5\.0 %; api:v1 weight 100 again$/);
    assert.ok((during.byInstance['api:bad'] ?? 0) > 0, `the canary got traffic: ${JSON.stringify(during.byInstance)}`);

    const status = await canaryOf(d, 'api');
    assert.equal(status.state, 'rolled_back');
    assert.deepEqual(status.stable, { v1: 100 });
    assert.deepEqual(await instanceWeights(d), { 'api:v1': 100, 'api:bad': 0 });
    const after = await loadLoop(d.port, 200).finished;
    assert.deepEqual(after.byInstance, { 'api:v1': 200 }, 'after the rollback every request goes to v1');
    assert.deepEqual(after.failures, []);
  });

  await t.test('a good version is promoted step by step while every request succeeds', async () => {
    const events: string[] = [];
    const stream = request({ host: '127.0.0.1', port: d.port, path: '/api/events', headers: { host: 'localhost', authorization: `Bearer ${d.token}` } });
    t.after(() => stream.destroy());
    stream.on('response', (res) => res.on('data', (c: Buffer) => events.push(c.toString())));
    stream.end();
    const load = loadLoop(d.port);
    const r = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'v2', canary: [10, 50, 100], interval: 1 });
    assert.equal(r.status, 202, r.body);
    const started = JSON.parse(r.body) as CanaryStatus;
    assert.deepEqual([started.state, started.step, started.percent, started.steps, started.stable], ['starting', 0, 0, [10, 50, 100], { v1: 100 }]);
    const seenWeights = new Set<string>();
    const final = await waitFor(async () => {
      const w = await instanceWeights(d);
      seenWeights.add(`${w['api:v1']}/${w['api:v2']}`);
      const c = await canaryOf(d, 'api');
      return c.state === 'running' || c.state === 'starting' ? undefined : c;
    }, 60_000, 'the canary of api:v2 to be decided');
    const during = await load.stop();
    assert.equal(final.state, 'promoted', final.reason ?? '');
    assert.equal(final.verdicts.length, 3);
    assert.deepEqual(during.failures, [], 'no request failed during the canary');
    assert.ok((during.byInstance['api:v2'] ?? 0) > 0 && (during.byInstance['api:v1'] ?? 0) > 0, JSON.stringify(during.byInstance));
    assert.ok(seenWeights.has('90/10') || seenWeights.has('50/50'), `weights stepped: ${[...seenWeights].join(' ')}`);
    assert.deepEqual(await instanceWeights(d), { 'api:v1': 0, 'api:v2': 100, 'api:bad': 0 });
    const after = await loadLoop(d.port, 100).finished;
    assert.deepEqual(after.byInstance, { 'api:v2': 100 });
    await waitFor(() => /event: deploy\ndata: \{[^\n]*"instance":"api:v2"[^\n]*"state":"promoted"/.test(events.join('')), 5000, 'the deploy event of the promotion');
    const metrics = await adminCall(d, 'GET', '/metrics');
    assert.match(metrics.body, /tenement_canary_deploys_total\{service="api",result="promoted"\} 1/);
    assert.match(metrics.body, /tenement_canary_deploys_total\{service="api",result="rolled_back"\} 1/);
    const logs = await d.ten(['logs', 'api:v2']);
    assert.match(logs.stdout, /canary promoted: api:v2 weight 100, api:v1 weight 0/);
  });

  await t.test('bad requests are refused and change nothing', async () => {
    const usage = await d.ten(['deploy', 'api:v3', '--canary', '50,10']);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /invalid canary steps "50,10"/);
    const noCanary = await d.ten(['deploy', 'api:v3', '--interval', '1s']);
    assert.equal(noCanary.code, 2, noCanary.stderr);
    assert.match(noCanary.stderr, /--interval needs --canary/);
    const badInterval = await d.ten(['deploy', 'api:v3', '--canary', '10', '--interval', 'soon']);
    assert.equal(badInterval.code, 2, badInterval.stderr);
    const zero = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'v3', canary: [0, 100] });
    assert.equal(zero.status, 400, zero.body);
    const busy = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'v2', canary: [10] });
    assert.equal(busy.status, 409, busy.body);
    assert.match(busy.body, /api:v2 already takes traffic \(weight 100\)/);
    assert.equal((await adminCall(d, 'GET', '/api/deploys/nosuch')).status, 404);
    assert.equal((await adminCall(d, 'GET', '/api/deploys/api', undefined)).status, 200);
    assert.equal((await d.http('/api/deploys/api')).status, 401, 'the status needs a token');
    assert.deepEqual(await instanceWeights(d), { 'api:v1': 0, 'api:v2': 100, 'api:bad': 0 });
    assert.equal((await adminCall(d, 'GET', '/api/instances/api:v3')).status, 404, 'no instance was started');
  });

  await t.test('abort puts the weights back at once', async () => {
    const r = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'v3', canary: [20, 100], interval: 60 });
    assert.equal(r.status, 202, r.body);
    await waitFor(async () => (await canaryOf(d, 'api')).step === 1, 20_000, 'step 1');
    assert.deepEqual(await instanceWeights(d), { 'api:v1': 0, 'api:v2': 80, 'api:v3': 20, 'api:bad': 0 });
    const rolloutMeanwhile = await adminCall(d, 'POST', '/api/rollouts', { service: 'api' });
    assert.equal(rolloutMeanwhile.status, 409, rolloutMeanwhile.body);
    assert.match(rolloutMeanwhile.body, /the canary of api:v3 is in progress: one change at a time per service/);
    const aborted = await adminCall(d, 'POST', '/api/deploys/api/abort');
    assert.equal(aborted.status, 200, aborted.body);
    const status = JSON.parse(aborted.body) as CanaryStatus;
    assert.deepEqual([status.state, status.reason], ['rolled_back', 'aborted by the operator']);
    assert.deepEqual(await instanceWeights(d), { 'api:v1': 0, 'api:v2': 100, 'api:v3': 0, 'api:bad': 0 });
    assert.equal((await adminCall(d, 'POST', '/api/deploys/api/abort')).status, 409, 'nothing left to abort');
  });

  await t.test('a version whose health check starts failing is rolled back without waiting out its step', async () => {
    // A 10-minute step: only the early check can decide it within this test's time.
    const r = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'sick', canary: [50], interval: 600 });
    assert.equal(r.status, 202, r.body);
    const final = await decided(d, 'api');
    assert.equal(final.state, 'rolled_back');
    assert.match(final.reason ?? '', /^step 1 \(50 %\): health check failing: api:sick$/);
    assert.equal((await instanceWeights(d))['api:v2'], 100);
    assert.equal((await instanceWeights(d))['api:sick'], 0);
  });

  await t.test('a version that never gets healthy changes no weight and says why', async () => {
    const before = await instanceWeights(d);
    const r = await adminCall(d, 'POST', '/api/deploy', { service: 'api', version: 'broken', canary: [10, 100], interval: 1, timeout: 5 });
    assert.equal(r.status, 202, r.body);
    const final = await decided(d, 'api');
    assert.equal(final.state, 'rolled_back');
    assert.equal(final.step, 0, 'it never got a step');
    assert.match(final.reason ?? '', /^deploy of api:broken failed: .*; routing unchanged$/);
    assert.deepEqual(await instanceWeights(d), { ...before, 'api:broken': 0 });
  });

  await t.test('--detach returns at once and the server finishes the canary by itself', async () => {
    const cli = await d.ten(['deploy', 'api:v4', '--canary', '100', '--interval', '1s', '--detach']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^canary of api:v4 started: steps 100 %, 1s each/);
    const final = await decided(d, 'api');
    assert.equal(final.state, 'promoted', final.reason ?? '');
    const w = await instanceWeights(d);
    assert.deepEqual([w['api:v2'], w['api:v4']], [0, 100]);
  });
});

test('a canary interrupted by a server restart goes on after it, and ten deploy follows it across', { timeout: 120_000 }, async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  assert.equal((await adminCall(d, 'POST', '/api/instances', { service: 'api', id: 'v1', wait: true })).status, 201);
  const following = d.ten(['deploy', 'api:v2', '--canary', '25,100', '--interval', '3s']);
  await waitFor(async () => {
    const r = await adminCall(d, 'GET', '/api/deploys/api');
    return r.status === 200 && (JSON.parse(r.body) as CanaryStatus).step === 1;
  }, 20_000, 'step 1');
  await d.stop();
  // Same port, so the CLI still following finds the new server.
  const again = await startDaemon(t, { config: CONFIG, dir: d.dir, extraArgs: ['--port', String(d.port)] });
  assert.equal(again.port, d.port);
  const resumed = await canaryOf(again, 'api');
  assert.deepEqual([resumed.state, resumed.step, resumed.stable], ['running', 1, { v1: 100 }]);
  const final = await decided(again, 'api');
  assert.equal(final.state, 'promoted', final.reason ?? '');
  assert.deepEqual(await instanceWeights(again), { 'api:v1': 0, 'api:v2': 100 });
  const cli = await following;
  assert.equal(cli.code, 0, `${cli.stdout}${cli.stderr}`);
  assert.match(cli.stdout, /server unreachable, retrying\n[^]*promoted api:v2: weight 100, api:v1 weight 0/);
});
