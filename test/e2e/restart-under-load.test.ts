// Restarts under keep-alive load (docs/lifecycle.md#restarts): while eight keep-alive connections
// send requests to two tenants back to back, (a) the server is SIGTERMed and started again on a
// socket it inherits (socket activation), and (b) a second ten serve takes over from the running
// one. Every request is answered 2xx (none refused, reset or cut), the tenants keep their pids,
// and the counter each prints every 10 ms is stored without a gap. In both, a request for a
// sleeping instance sent on a connection of the draining server is answered by the next one,
// which wakes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, ROOT, TEN, runTen, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import { keepAliveLoad } from '../helpers/keepalive-load.js';

const CONFIG = `
[service.count]
command = "node {apps}/counter.mjs"
health = "/health"
idle_timeout = 0

[service.sleepy]
command = "node {apps}/ok.mjs"
health = "/health"
idle_timeout = 0
`;
const HOSTS = ['a.count.localhost', 'b.count.localhost'];

type Ten = (args: readonly string[]) => ReturnType<typeof runTen>;

async function pids(ten: Ten): Promise<string> {
  const r = await ten(['ps', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ instance: string; pid: number | null; state: string }>)
    .filter((i) => i.instance.startsWith('count:')).map((i) => `${i.instance}=${i.pid}/${i.state}`).join(' ');
}

async function assertNoTickGap(ten: Ten, instance: string): Promise<void> {
  const r = await ten(['logs', instance, '--stream', 'stdout', '--limit', '100000', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const seen = [...new Set((JSON.parse(r.stdout) as Array<{ line: string }>).map((l) => Number(/^tick (\d+)$/.exec(l.line)?.[1])))].sort((x, y) => x - y);
  assert.ok(seen.every(Number.isInteger), `${instance}: only tick lines`);
  assert.equal(seen[0], 1, `${instance}: from tick 1`);
  assert.deepEqual(seen.filter((v, i) => i > 0 && v !== seen[i - 1]! + 1).map((v) => `${seen[seen.indexOf(v) - 1]}..${v}`), [], `${instance}: ticks after a gap`);
}

/** A raw keep-alive connection that has had one answer from the server it reached. */
async function openKeepAlive(port: number): Promise<{ socket: Socket; ask(host: string): Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  let buffered = '';
  socket.on('data', (c: Buffer) => { buffered += c.toString('latin1'); });
  const ask = async (host: string): Promise<string> => {
    buffered = '';
    socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    return waitFor(() => {
      const m = /\r\n\r\n/.exec(buffered);
      const length = Number(/content-length: (\d+)/i.exec(buffered)?.[1] ?? -1);
      return m !== null && length >= 0 && buffered.length >= m.index + 4 + length ? buffered : undefined;
    }, 60_000, () => `an answer, got ${JSON.stringify(buffered)}`);
  };
  await new Promise((resolve) => socket.once('connect', resolve));
  await ask(HOSTS[0]!);
  return { socket, ask };
}

test('SIGTERM and a start on the inherited socket under keep-alive load: every request answered, tenants and their output kept', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'tenement.toml'), CONFIG.replaceAll('{apps}', APPS));
  const args = [TEN, 'serve', '--config', join(dir, 'tenement.toml'), '--data-dir', join(dir, 'data')];
  const holder = spawn(process.execPath, [join(ROOT, 'test/fixtures/socket-holder.mjs'), process.execPath, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  holder.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  holder.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const holderExited = new Promise((resolve) => holder.once('exit', resolve));
  const serverPid = (): number => Number(readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim().split(' ')[0] || 0);
  t.after(async () => {
    if (holder.exitCode === null && serverPid() > 0) process.kill(serverPid(), 'SIGTERM');
    await holderExited;
  });
  const port = await waitFor(() => Number(/^port (\d+)$/m.exec(out)?.[1] ?? 0) || undefined, 20_000, () => out);
  await waitFor(() => out.includes('manage it with'), 20_000, () => out);
  const ten: Ten = (cli) => runTen(['--server', `http://127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), ...cli], {}, dir);
  for (const id of ['count:a', 'count:b', 'sleepy:z']) assert.equal((await ten(['spawn', id])).code, 0);
  assert.equal((await ten(['stop', 'sleepy:z'])).code, 0);
  const before = await pids(ten);

  const load = keepAliveLoad(port, HOSTS);
  await waitFor(() => load.count() >= 300, 20_000, 'load before the restart');
  const idle = await openKeepAlive(port);
  const first = serverPid();
  const seen = out.length;
  process.kill(first, 'SIGTERM');
  // The old server drains: a wake asked of it goes, by a relay that outlives it, to the port's
  // backlog, where the next server (started once the old one exited) answers it.
  await waitFor(() => out.slice(seen).includes('leaving instances running'), 30_000, () => out.slice(seen));
  const woken = await idle.ask('z.sleepy.localhost');
  assert.match(woken, /^HTTP\/1\.1 200 [^]*connection: close[^]*hello from sleepy:z$/i);
  idle.socket.destroy();
  await waitFor(() => /manage it with/.test(out.slice(seen)), 30_000, () => out.slice(seen));
  const atRestart = load.count();
  await waitFor(() => load.count() >= atRestart + 300, 20_000, 'load after the restart');
  const result = await load.stop();

  assert.deepEqual(result.failures, {}, `${result.requests} requests`);
  assert.ok(result.sockets > 8, 'the old server closed its connections (the clients reconnected)');
  assert.equal(await pids(ten), before, 'the same tenant processes');
  for (const instance of ['count:a', 'count:b']) await assertNoTickGap(ten, instance);
});

test('a second ten serve takes over under keep-alive load: every request answered, tenants and output kept, the old one exits', async (t) => {
  const old = await startDaemon(t, { config: CONFIG, keepInstances: true });
  for (const id of ['count:a', 'count:b', 'sleepy:z']) assert.equal((await old.ten(['spawn', id])).code, 0);
  assert.equal((await old.ten(['stop', 'sleepy:z'])).code, 0);
  const before = await pids(old.ten);
  const oldExited = new Promise<number | null>((resolve) => old.proc.once('exit', (code) => resolve(code)));

  const load = keepAliveLoad(old.port, HOSTS);
  await waitFor(() => load.count() >= 300, 20_000, 'load before the take-over');
  // One more keep-alive connection of the old server, idle when the take-over begins.
  const idle = await openKeepAlive(old.port);
  const starting = startDaemon(t, { config: CONFIG, dir: old.dir, startTimeoutMs: 60_000 });
  // The old server drains from here: a wake asked of it goes to the next server, which starts sleepy:z.
  await waitFor(() => old.output().includes('is taking over'), 60_000, () => old.output());
  const woken = await idle.ask('z.sleepy.localhost');
  const next = await starting;
  assert.match(woken, /^HTTP\/1\.1 200 /);
  assert.match(woken, /hello from sleepy:z$/);
  assert.match(woken, /connection: close/i);
  idle.socket.destroy();

  assert.equal(await oldExited, 0, old.output());
  assert.match(old.output(), /the next ten serve took over/);
  assert.equal(next.port, old.port, 'the same listening port');
  const atTakeOver = load.count();
  await waitFor(() => load.count() >= atTakeOver + 300, 20_000, 'load after the take-over');
  const result = await load.stop();

  assert.deepEqual(result.failures, {}, `${result.requests} requests`);
  assert.equal(await pids(next.ten), before, 'the same tenant processes');
  for (const instance of ['count:a', 'count:b']) await assertNoTickGap(next.ten, instance);
});
