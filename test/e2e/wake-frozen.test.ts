// The frozen tier through the real `ten serve`: an idle instance's cgroup is frozen after
// freeze_after (the kernel says so, its CPU time stands still), a request thaws it with its memory
// and its client's keep-alive connection intact, it is stopped at idle_timeout, and frozen
// instances are stopped when memory available is below min_free_mb; ten wake and the TLS server
// name start a wake before any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import type { Daemon } from '../helpers/daemon.js';
import { cpuTicks, isCgroupFrozen } from '../helpers/freezer-state.js';
import { freePort } from '../helpers/net.js';
import { stateOf, through, waitForState } from './proxy-helpers.js';

const FREEZING = (extra = '', settings = '') => `
[settings]
health_check_interval = 0.2
${settings}

[service.chill]
command = "node {apps}/wake-app.mjs"
health = "/health"
stop_timeout = 2
freeze_after = 1
idle_ignore = ["/health"]
${extra}

[service.chill.env]
BUSY = "1"

[instances]
chill = ["a"]
`;

async function pidOf(d: Daemon, name: string): Promise<number> {
  const rows = JSON.parse((await d.ten(['ps', '-a', '--json'])).stdout) as Array<{ instance: string; pid: number | null }>;
  const pid = rows.find((r) => r.instance === name)?.pid;
  assert.ok(typeof pid === 'number', `${name} has a pid`);
  return pid;
}

async function metric(d: Daemon, line: RegExp): Promise<number> {
  const r = await d.http('/metrics', { headers: { authorization: `Bearer ${d.token}` } });
  const match = line.exec(r.body);
  return match === null ? 0 : Number(match[1]);
}

/** Sends GET `path` on `agent` (one keep-alive socket); says whether the socket was reused. */
function onAgent(d: Daemon, agent: Agent, path: string): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: d.port, path, agent, headers: { host: 'a.chill.localhost' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body, reused: req.reusedSocket }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${path} hung`)));
    req.on('error', reject);
    req.end();
  });
}

test('an idle instance is frozen, thawed by a request with its memory intact, and stopped at idle_timeout', async (t) => {
  const d = await startDaemon(t, { config: FREEZING('idle_timeout = 6') });
  await waitForState(d, 'chill:a', 'running');
  const pid = await pidOf(d, 'chill:a');
  assert.equal((await through(d, 'a.chill.localhost', '/set?v=kept', { method: 'POST' })).body.toString(), 'stored');
  assert.equal(isCgroupFrozen(pid), false, 'running: its cgroup is not frozen');

  await waitForState(d, 'chill:a', 'frozen', 10_000);
  assert.equal(isCgroupFrozen(pid), true, 'the kernel says its cgroup is frozen');
  const ticks = cpuTicks(pid);
  // A busy app (2 ms of CPU every 10 ms) whose CPU time stands still over half a second.
  await sleep(500);
  assert.equal(cpuTicks(pid), ticks, 'no CPU time while frozen');
  assert.equal((await d.ten(['health', 'chill:a'])).stdout.trim(), 'frozen');
  assert.match((await d.ten(['ps'])).stdout, /chill:a\s+frozen/);
  assert.equal(await metric(d, /^tenement_freezes_total\{service="chill",instance="a"\} (\d+)$/m), 1);

  // A probe (idle_ignore) neither thaws it nor is held: 503 with Retry-After, still frozen.
  const probe = await through(d, 'a.chill.localhost', '/health');
  assert.equal(probe.status, 503);
  assert.ok(Number(probe.headers['retry-after']) > 0);
  assert.equal(await stateOf(d, 'chill:a'), 'frozen');

  const r = await through(d, 'a.chill.localhost', '/get');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'kept', 'the thawed process kept its memory');
  assert.equal(await pidOf(d, 'chill:a'), pid, 'the same process answered');
  assert.equal(isCgroupFrozen(pid), false);
  assert.equal(await metric(d, /^tenement_thaws_total\{service="chill",instance="a"\} (\d+)$/m), 1);
  assert.equal(await metric(d, /^tenement_thaw_duration_seconds_count\{service="chill"\} (\d+)$/m), 1);

  // Frozen again, then stopped once idle_timeout has passed since the last request.
  await waitForState(d, 'chill:a', 'frozen', 10_000);
  await waitForState(d, 'chill:a', 'idle', 15_000);
  await waitFor(() => !isAlive(pid), 10_000, 'the frozen process to be gone');
  const again = await through(d, 'a.chill.localhost', '/get');
  assert.equal(again.status, 200);
  assert.equal(again.body.toString(), '', 'a stopped instance starts fresh');
});

test("a client's keep-alive connection and the proxy's upstream connection survive a freeze and thaw", async (t) => {
  const d = await startDaemon(t, { config: FREEZING('idle_timeout = 0') });
  await waitForState(d, 'chill:a', 'running');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await onAgent(d, agent, '/whoami');
  assert.equal(first.status, 200);
  await waitForState(d, 'chill:a', 'frozen', 10_000);

  const second = await onAgent(d, agent, '/whoami');
  assert.equal(second.status, 200);
  assert.equal(second.reused, true, 'the request went over the same client connection');
  const [before, after] = [first, second].map((r) => JSON.parse(r.body) as { pid: number; connection: number });
  assert.deepEqual(after, before, 'same process, same upstream connection');
});

test('frozen instances are stopped when memory available is below min_free_mb, and wake again on a request', async (t) => {
  // Far above any host's memory: every frozen instance is in the way.
  const d = await startDaemon(t, { config: FREEZING('idle_timeout = 0', 'min_free_mb = 1000000000') });
  await waitForState(d, 'chill:a', 'running');
  const pid = await pidOf(d, 'chill:a');
  await waitFor(async () => (await d.ten(['logs', 'chill:a'])).stdout.includes('below min_free_mb (1000000000)'), 15_000, 'the memory-floor stop');
  await waitForState(d, 'chill:a', 'idle');
  assert.equal(isAlive(pid), false);
  const logs = (await d.ten(['logs', 'chill:a'])).stdout;
  assert.ok(logs.indexOf('frozen after 1 s') < logs.indexOf('below min_free_mb'), 'frozen first, then stopped');

  const r = await through(d, 'a.chill.localhost', '/get');
  assert.equal(r.status, 200);
});

test('ten wake starts a stopped instance and thaws a frozen one without a request; held ones are refused', async (t) => {
  const d = await startDaemon(t, { config: FREEZING('idle_timeout = 0') });
  await waitForState(d, 'chill:a', 'running');
  await waitForState(d, 'chill:a', 'frozen', 10_000);
  const thawed = await d.ten(['wake', 'chill:a']);
  assert.equal(thawed.code, 0, thawed.stderr);
  assert.match(thawed.stdout, /^waking chill:a/);
  await waitForState(d, 'chill:a', 'running');

  assert.equal((await d.ten(['stop', 'chill:a'])).code, 0);
  const woken = await d.ten(['wake', 'chill:a']);
  assert.equal(woken.code, 0, woken.stderr);
  await waitForState(d, 'chill:a', 'running');
  assert.match((await d.ten(['logs', 'chill:a'])).stdout, /started \(wake\)/);

  assert.equal((await d.ten(['stop', '--hold', 'chill:a'])).code, 0);
  const held = await d.ten(['wake', 'chill:a']);
  assert.equal(held.code, 1);
  assert.match(held.stderr, /^error: chill:a is held/);
  assert.equal(await stateOf(d, 'chill:a'), 'held');

  assert.equal((await d.ten(['wake', 'chill:Bad'])).code, 2);
  assert.equal((await d.ten(['wake', 'chill:nobody'])).code, 1);
  const tenant = (await d.ten(['token-gen', '--tenant', 'a', '--data-dir', d.dataDir])).stdout.trim();
  const refused = await d.http('/api/instances/chill:a/wake', { method: 'POST', headers: { authorization: `Bearer ${tenant}` } });
  assert.equal(refused.status, 403, 'waking is for admin tokens');
  assert.ok(existsSync(d.dataDir));
});

test('a server killed while an instance is frozen: the next one thaws and stops it, even for a service no longer configured', async (t) => {
  const dir = tempDir(t);
  const d = await startDaemon(t, { config: FREEZING('idle_timeout = 0'), dir });
  await waitForState(d, 'chill:a', 'frozen', 10_000);
  const pid = await pidOf(d, 'chill:a');
  await d.crash();
  assert.equal(isAlive(pid), true, 'the frozen process outlived the killed server');
  await startDaemon(t, { config: '[service.other]\ncommand = "node {apps}/ok.mjs"\n', dir });
  await waitFor(() => !isAlive(pid), 15_000, 'the frozen leftover to be stopped');
  await waitFor(() => !readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => {
    const [, mount, type] = line.split(' ');
    return (type === 'cgroup' || type === 'cgroup2') && existsSync(`${mount}/tenement/chill.a`);
  }), 10_000, 'its cgroup to be removed');
});

test("the TLS ClientHello's server name starts waking a stopped instance before any request", async (t) => {
  const certs = tempDir(t);
  const cert = join(certs, 'c.pem');
  const key = join(certs, 'c.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=wild', '-addext', 'subjectAltName=DNS:*.chill.example.test'], { stdio: 'ignore' });
  const httpsPort = await freePort();
  const d = await startDaemon(t, {
    domain: 'example.test',
    config: `[settings.tls]\nenabled = true\ndomain = "example.test"\nhttps_port = ${httpsPort}\ncert_file = ["${cert}"]\nkey_file = ["${key}"]\n${FREEZING('idle_timeout = 0')}`,
  });
  await waitForState(d, 'chill:a', 'running');
  assert.equal((await d.ten(['stop', 'chill:a'])).code, 0);

  // A handshake, and no request at all.
  const socket = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'a.chill.example.test', ca: readFileSync(cert, 'utf8') });
  t.after(() => socket.destroy());
  await once(socket, 'secureConnect');
  await waitForState(d, 'chill:a', 'running');
  assert.match((await d.ten(['logs', 'chill:a'])).stdout, /started \(wake\)/);
});
