// Take-over beyond the plain-HTTP case (restart-under-load.test.ts has that under load): with
// [settings.tls] on, both ports pass to the new server and a wake asked on a draining TLS
// connection is answered by it; a server taken over can itself be taken over; only one take-over
// runs at a time — another meanwhile is refused with a clear error — and one that never completes
// changes nothing; a rollout under way moves on in the new server. The control socket is the
// server user's alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { TEN, isAlive, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import type { Daemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/net.js';
import { httpsGet } from '../helpers/tls-client.js';
import { allRunning, answers, api, IDS, notesConfig, writeConfig } from './rollout-helpers.js';

const PLAIN = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
idle_timeout = 0

[instances]
notes = ["a"]
`;

/** Resolves to the exit code once `d`'s process (the thin parent, for a take-over) has exited. */
const exitOf = (d: Daemon): Promise<number | null> =>
  d.proc.exitCode !== null ? Promise.resolve(d.proc.exitCode) : new Promise((resolve) => d.proc.once('exit', (code) => resolve(code)));

async function pidsOf(d: Daemon): Promise<string> {
  const r = await d.ten(['ps', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ instance: string; pid: number | null }>).map((i) => `${i.instance}=${i.pid}`).join(' ');
}

test('with TLS on, both ports pass to the new server, which answers a wake asked on a draining TLS connection', async (t) => {
  const certs = tempDir(t);
  const cert = join(certs, 'c.pem');
  const key = join(certs, 'c.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=t', '-addext', 'subjectAltName=DNS:*.notes.example.test,DNS:example.test'], { stdio: 'ignore' });
  const httpsPort = await freePort();
  const config = `
[settings.tls]
enabled = true
domain = "example.test"
https_port = ${httpsPort}
cert_file = [${JSON.stringify(cert)}]
key_file = [${JSON.stringify(key)}]
${PLAIN}`;
  const ca = readFileSync(cert, 'utf8');
  const old = await startDaemon(t, { config, domain: 'example.test', keepInstances: true });
  assert.equal((await old.ten(['spawn', 'notes:nap'])).code, 0);
  assert.equal((await old.ten(['stop', 'notes:nap'])).code, 0);
  const before = await pidsOf(old);

  // A keep-alive TLS connection to the old server, idle when the take-over begins.
  const tls = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'a.notes.example.test', ca, ALPNProtocols: ['http/1.1'] });
  let received = '';
  tls.on('data', (c: Buffer) => { received += c.toString('latin1'); });
  tls.on('error', () => undefined);
  const ask = async (host: string): Promise<string> => {
    const from = received.length;
    tls.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    return waitFor(() => {
      const text = received.slice(from);
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
      return end >= 0 && length >= 0 && text.length >= end + 4 + length ? text : undefined;
    }, 60_000, () => `an answer, got ${JSON.stringify(received.slice(from))}`);
  };
  assert.match(await ask('a.notes.example.test'), /hello from notes:a/);

  const starting = startDaemon(t, { config, domain: 'example.test', dir: old.dir, startTimeoutMs: 60_000 });
  await waitFor(() => old.output().includes('is taking over'), 60_000, () => old.output());
  const woken = await ask('nap.notes.example.test');
  assert.match(woken, /^HTTP\/1\.1 200 [^]*hello from notes:nap$/);
  tls.destroy();
  const next = await starting;
  assert.equal(await exitOf(old), 0, old.output());
  assert.equal(next.port, old.port, 'the same HTTP port');
  assert.match(next.output(), new RegExp(`and https://127\\.0\\.0\\.1:${httpsPort} `));

  const https = await httpsGet(httpsPort, { servername: 'a.notes.example.test', ca });
  assert.equal(https.status, 200);
  const redirect = await next.http('/', { host: 'a.notes.example.test' });
  assert.equal(redirect.status, 308);
  const after = (await pidsOf(next)).split(' ').filter((p) => !p.startsWith('notes:nap')).join(' ');
  assert.equal(after, before.split(' ').filter((p) => !p.startsWith('notes:nap')).join(' '), 'notes:a kept its process');
});

test('one take-over at a time: one that never completes changes nothing, another meanwhile is refused; a taken-over server can be taken over', async (t) => {
  const first = await startDaemon(t, { config: PLAIN, keepInstances: true });
  // It offers take-overs once it has booted.
  await waitFor(() => first.output().includes('manage it with'), 20_000, () => first.output());
  const control = join(first.dataDir, 'takeover.sock');
  assert.equal(statSync(control).mode & 0o777, 0o600, 'only the server user may connect');
  const before = await pidsOf(first);

  // Something connects and never asks: the server goes on, and refuses a real take-over meanwhile.
  const stalled = connect(control);
  await new Promise((resolve) => stalled.once('connect', resolve));
  const refused = spawn(process.execPath, [TEN, 'serve', '--config', first.configFile, '--data-dir', first.dataDir, '--port', '0'], { cwd: first.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let refusedOut = '';
  refused.stdout!.on('data', (c: Buffer) => { refusedOut += c.toString(); });
  refused.stderr!.on('data', (c: Buffer) => { refusedOut += c.toString(); });
  const refusedCode = await new Promise<number | null>((resolve) => refused.once('exit', (code) => resolve(code)));
  assert.equal(refusedCode, 1, refusedOut);
  assert.match(refusedOut, /ended the take-over \(another one is in progress, or it stopped\)/);
  stalled.destroy();
  assert.equal((await first.http('/', { host: 'a.notes.localhost' })).status, 200, 'the first server still serves');
  assert.equal(first.proc.exitCode, null);

  // Now a real one, and then a take-over of that one (it runs as the child of a thin parent).
  const second = await startDaemon(t, { config: PLAIN, dir: first.dir, keepInstances: true, startTimeoutMs: 60_000 });
  assert.equal(await exitOf(first), 0, first.output());
  await waitFor(() => second.output().includes('manage it with'), 20_000, () => second.output());
  const third = await startDaemon(t, { config: PLAIN, dir: first.dir, startTimeoutMs: 60_000 });
  assert.equal(await exitOf(second), 0, second.output());
  assert.match(second.output(), /the next ten serve took over/);
  assert.equal(third.port, first.port);
  assert.equal(await pidsOf(third), before, 'the same process through two take-overs');
  assert.equal((await third.http('/', { host: 'a.notes.localhost' })).status, 200);

  // The new ten serve runs the server as its child: SIGTERM to it reaches the server, and its exit
  // code comes back (this one was started with --stop-instances-on-exit).
  assert.equal(await third.stop(), 0, third.output());
  assert.match(third.output(), /stopping instances…[^]*tenement stopped/);
  assert.ok(!isAlive(Number(before.split('=')[1])), 'the tenant was stopped with the server');
});

test('a take-over in the middle of a rollout: the old server stops it, the new one resumes and finishes it, nothing moved twice', async (t) => {
  const four = IDS.slice(0, 4);
  const old = await startDaemon(t, { config: notesConfig('VERSION = "v1"', four), keepInstances: true });
  await allRunning(old, four.length);
  writeConfig(old, notesConfig('VERSION = "v2"', four));
  assert.equal((await old.ten(['reload'])).code, 0);
  assert.equal((await api(old, '/api/rollouts', 'POST', { service: 'notes', cohorts: [50, 100], interval: 4 })).status, 201);
  await waitFor(async () => (await api<{ moved: number }>(old, '/api/rollouts/notes')).body.moved === 2, 30_000, 'the first cohort moved');
  const before = new Map((await allRunning(old, four.length)).map((i) => [i.id, i.pid]));

  const next = await startDaemon(t, { config: notesConfig('VERSION = "v2"', four), dir: old.dir, startTimeoutMs: 60_000 });
  assert.equal(await exitOf(old), 0, old.output());
  const resumed = await waitFor(async () => {
    const s = (await api<{ state: string; cohort: number; moved: number; message: string | null }>(next, '/api/rollouts/notes')).body;
    return /^resumed after a server restart: judging cohort 1\/2 again/.test(s.message ?? '') ? s : undefined;
  }, 30_000, 'the rollout resumed in the new server');
  assert.deepEqual([resumed.state, resumed.cohort, resumed.moved], ['running', 1, 2]);
  await waitFor(async () => (await api<{ state: string }>(next, '/api/rollouts/notes')).body.state === 'succeeded', 60_000, 'the rollout finished');
  const after = new Map((await allRunning(next, four.length)).map((i) => [i.id, i.pid]));
  for (const id of four.slice(0, 2)) assert.equal(after.get(id), before.get(id), `${id}, moved before the take-over, kept its process`);
  for (const id of four.slice(2)) assert.notEqual(after.get(id), before.get(id), `${id} was moved by the new server`);
  const served = await answers(next, four);
  for (const id of four) assert.equal(served.get(id), `200 v2 from notes:${id}`);
});
