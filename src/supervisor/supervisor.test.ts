// The supervisor with real child processes, a real SQLite file and real ports: lifecycle,
// restarts with backoff, health, idle and wake, and recovery across a server restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TenementError } from '../core/errors.js';
import { IllegalTransitionError } from '../core/lifecycle.js';
import { ProcessRuntime } from '../runtime/process.js';
import { readStartTime } from '../runtime/proc-stat.js';
import { openDb } from '../store/db.js';
import { InstanceStore } from '../store/instances.js';
import type { Instance } from './instance.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { waitFor } from '../../test/helpers/wait.js';

const APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps');

function configText(services: string, settings = ''): string {
  return `[settings]\nport_range = [20000, 23999]\nhealth_check_interval = 0.2\nbackoff_base_ms = 100\nbackoff_max_ms = 2000\n${settings}\n${services}`;
}

function service(name: string, app: string, extra = '', env = ''): string {
  return `[service.${name}]\ncommand = "node ${join(APPS, app)}"\nhealth = "/health"\nstop_timeout = 2\nstartup_timeout = 5\n${extra}\n[service.${name}.env]\n${env}\n`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('spawn starts an instance on its own port with PORT, HOST, DATA_DIR and TENEMENT_INSTANCE', async (t) => {
  const h = await startSupervisor(t, configText(service('notes', 'ok.mjs')));
  const info = await h.supervisor.spawn('notes', 'alice', { wait: true });
  assert.equal(info.state, 'running');
  assert.equal(info.health, 'healthy');
  assert.equal(info.weight, 100);
  assert.ok(info.port !== null && info.pid !== null);
  const env = await (await fetch(`http://127.0.0.1:${info.port}/env`)).json() as Record<string, string>;
  assert.equal(env.PORT, String(info.port));
  assert.equal(env.HOST, '127.0.0.1');
  assert.equal(env.TENEMENT_INSTANCE, 'notes:alice');
  assert.equal(env.DATA_DIR, join(h.dir, 'data', 'notes', 'alice'));
  assert.ok(existsSync(env.DATA_DIR!), 'the data dir is created before start');
});

test('spawning an instance that is already running is a conflict', async (t) => {
  const h = await startSupervisor(t, configText(service('notes', 'ok.mjs')));
  await h.supervisor.spawn('notes', 'alice', { wait: true });
  await assert.rejects(h.supervisor.spawn('notes', 'alice', { wait: true }), (e: TenementError) => e.code === 'already_exists');
  await assert.rejects(h.supervisor.spawn('nope', 'alice'), (e: TenementError) => e.code === 'service_not_found');
  await assert.rejects(h.supervisor.spawn('notes', 'Bad.Id'), (e: TenementError) => e.code === 'invalid_name');
  await assert.rejects(h.supervisor.spawn('notes', 'bob', { weight: 101 }), (e: TenementError) => e.code === 'invalid_weight');
});

test('50 parallel spawns get 50 distinct ports and all become healthy', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ok.mjs')));
  const infos = await Promise.all(Array.from({ length: 50 }, (_, i) => h.supervisor.spawn('api', `t${i}`, { wait: true })));
  const ports = new Set(infos.map((i) => i.port));
  assert.equal(ports.size, 50);
  assert.ok(infos.every((i) => i.state === 'running'));
});

test('a crashed instance is restarted with exponential backoff', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'crash-after.mjs', '', 'CRASH_AFTER_MS = "150"'), 'max_restarts = 10'));
  await h.supervisor.spawn('api', 'a', { wait: true });
  await waitFor(() => h.lifecycle.filter((e) => e.kind === 'spawn').length >= 4, 15_000, 'three restarted processes');
  const restarts = h.lifecycle.filter((e) => e.kind === 'restart');
  assert.deepEqual(restarts.slice(0, 3).map((e) => /restarting in (\d+) ms/.exec(e.message)?.[1]), ['100', '200', '400']);
  // Each new process starts no sooner than its backoff after the crash.
  const crashes = h.lifecycle.filter((e) => e.kind === 'crash');
  const spawns = h.lifecycle.filter((e) => e.kind === 'spawn');
  for (let n = 0; n < 3; n++) {
    const gap = spawns[n + 1]!.at - crashes[n]!.at;
    assert.ok(gap >= 100 * 2 ** n - 5, `restart ${n} came after ${gap} ms, before its ${100 * 2 ** n} ms backoff`);
    assert.ok(gap < 100 * 2 ** n + 3000, `restart ${n} came ${gap} ms after the crash`);
  }
  assert.ok(h.supervisor.info('api', 'a').restarts >= 3);
});

test('a crash loop ends in failed after max_restarts; ten restart clears it', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'crash-on-start.mjs'), 'max_restarts = 2\nrestart_window = 60'));
  await assert.rejects(h.supervisor.spawn('api', 'a', { wait: true }), (e: TenementError) => e.code === 'spawn_failed');
  await waitFor(() => h.supervisor.info('api', 'a').state === 'failed', 15_000, 'failed');
  assert.equal(h.supervisor.info('api', 'a').restarts, 2);
  assert.equal(h.lifecycle.filter((e) => e.kind === 'failed').length, 1);
  const handle = h.supervisor.get('api', 'a')!;
  await assert.rejects(h.supervisor.ensureReady(handle), (e: TenementError) => e.code === 'invalid_state');

  const before = h.lifecycle.filter((e) => e.kind === 'spawn').length;
  await h.supervisor.restart('api', 'a');
  await waitFor(() => h.lifecycle.filter((e) => e.kind === 'spawn').length > before, 15_000, 'a new start after ten restart');
});

test('failing health checks go degraded, then unhealthy, then restart', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'fail-health-after-n.mjs', '', 'FAIL_HEALTH_AFTER = "1"')));
  await h.supervisor.spawn('api', 'a', { wait: true });
  await waitFor(() => h.states.filter((s) => s.to === 'starting').length >= 2, 15_000, 'a start after the restart');
  const path = h.states.filter((s) => s.id === 'a').map((s) => s.to);
  const from = path.indexOf('running');
  assert.deepEqual(path.slice(from, from + 4), ['running', 'degraded', 'unhealthy', 'starting']);
});

test('restart policies: on-failure leaves a clean exit stopped, never leaves a crash failed', async (t) => {
  const h = await startSupervisor(t, configText(
    service('clean', 'exit-zero.mjs', 'restart = "on-failure"') + service('once', 'crash-after.mjs', 'restart = "never"', 'CRASH_AFTER_MS = "100"'),
  ));
  await h.supervisor.spawn('clean', 'a').catch(() => undefined);
  await h.supervisor.spawn('once', 'a', { wait: true });
  await waitFor(() => h.supervisor.info('clean', 'a').state === 'stopped', 15_000, 'clean exit stopped');
  await waitFor(() => h.supervisor.info('once', 'a').state === 'failed', 15_000, 'crash failed');
  assert.equal(h.lifecycle.filter((e) => e.kind === 'restart').length, 0);
});

test('an idle instance is stopped, and concurrent wakes share one start', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ok.mjs', 'idle_timeout = 0.3')));
  await h.supervisor.spawn('api', 'a', { wait: true });
  const handle = h.supervisor.get('api', 'a')!;
  handle.connectionOpened();
  const instance = handle as Instance;
  assert.equal(instance.isIdleDue(Date.now() + 60_000), false, 'an open connection keeps it from idling, however long it lasts');
  assert.equal(handle.state, 'running');
  handle.connectionClosed();
  assert.equal(instance.isIdleDue(Date.now() + 60_000), true, 'once closed, the idle timeout runs again');
  await waitFor(() => handle.state === 'idle' && h.supervisor.info('api', 'a').pid === null, 15_000, 'idle, its process gone');

  const spawnsBefore = h.lifecycle.filter((e) => e.kind === 'spawn').length;
  await Promise.all(Array.from({ length: 10 }, () => h.supervisor.ensureReady(handle)));
  assert.equal(handle.state, 'running');
  assert.equal(h.lifecycle.filter((e) => e.kind === 'spawn').length, spawnsBefore + 1);
  const ready = h.lifecycle.filter((e) => e.kind === 'ready').at(-1)!;
  assert.equal(ready.cause, 'wake');
});

test('held and stopped: held refuses wakes, stopped wakes on demand', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ok.mjs')));
  await h.supervisor.spawn('api', 'a', { wait: true });
  await h.supervisor.stop('api', 'a', { hold: true });
  const handle = h.supervisor.get('api', 'a')!;
  assert.equal(handle.state, 'held');
  await assert.rejects(h.supervisor.ensureReady(handle), (e: TenementError) => e.code === 'invalid_state');
  await h.supervisor.stop('api', 'a');
  await h.supervisor.ensureReady(handle);
  assert.equal(handle.state, 'running');
});

test('spawning a held instance is a conflict that points at ten restart; a stopped one is started again with its new weight', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ok.mjs')));
  await h.supervisor.spawn('api', 'a', { wait: true });
  await h.supervisor.stop('api', 'a', { hold: true });
  await assert.rejects(h.supervisor.spawn('api', 'a', { wait: true }), (e: TenementError) => {
    assert.equal(e.code, 'already_exists');
    assert.equal(e.message, 'api:a is already held');
    assert.equal(e.hint, 'use `ten restart api:a`');
    return true;
  });
  assert.equal(h.supervisor.info('api', 'a').state, 'held');
  await h.supervisor.stop('api', 'a');
  const again = await h.supervisor.spawn('api', 'a', { weight: 40, wait: true });
  assert.deepEqual([again.state, again.weight], ['running', 40]);
  const row = new InstanceStore(h.db).get('api', 'a');
  assert.deepEqual([row?.desiredState, row?.weight], ['running', 40], 'the new weight is stored, not only applied');
});

test('a state change outside the lifecycle table is refused and changes nothing', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ok.mjs')));
  await h.supervisor.spawn('api', 'a', { wait: true });
  const instance = h.supervisor.get('api', 'a') as Instance;
  const statesBefore = h.states.length;
  assert.throws(() => instance.restoreState('failed'), (e: unknown) => e instanceof IllegalTransitionError && e.from === 'running' && e.to === 'failed');
  assert.equal(instance.state, 'running');
  assert.equal(h.states.length, statesBefore, 'no state event for a refused change');
});

test('storage_persist = false deletes the data dir when the process stops and on rm', async (t) => {
  const h = await startSupervisor(t, configText(service('tmp', 'ok.mjs', 'storage_persist = false')));
  const info = await h.supervisor.spawn('tmp', 'a', { wait: true });
  const env = await (await fetch(`http://127.0.0.1:${info.port}/env`)).json() as Record<string, string>;
  assert.ok(existsSync(env.DATA_DIR!));
  await h.supervisor.stop('tmp', 'a');
  assert.ok(!existsSync(env.DATA_DIR!));
  await h.supervisor.start('tmp', 'a', { wait: true });
  await h.supervisor.remove('tmp', 'a');
  assert.ok(!existsSync(env.DATA_DIR!));
  assert.throws(() => h.supervisor.info('tmp', 'a'), (e: TenementError) => e.code === 'instance_not_found');
});

test('registrations, weights and desired states survive a restart; orphans are stopped, not duplicated', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-sup-'));
  // What a server that was SIGKILLed leaves: registrations in the store, and a live process group.
  const db = openDb(join(dir, 'data', 'tenement.db'));
  const store = new InstanceStore(db);
  store.insert('api', 'a', 30, 'running');
  store.insert('api', 'b', 100, 'held');
  const orphan = await new ProcessRuntime({}).start({
    instance: 'api:a', service: 'api', id: 'a', argv: ['node', join(APPS, 'ok.mjs')], cwd: dir,
    env: { PATH: process.env.PATH ?? '', PORT: '21998' }, port: 21998, dataDir: dir, memoryLimitMb: undefined, cpuShares: undefined,
    onLine: () => undefined,
  });
  t.after(() => orphan.stop(1000));
  store.recordProcess('api', 'a', 21998, orphan.pid, orphan.startTime);
  db.close();

  const h = await startSupervisor(t, configText(service('api', 'ok.mjs')), { dir });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.ok(!alive(orphan.pid), 'the previous server\'s process was stopped');
  const infoA = h.supervisor.info('api', 'a');
  assert.equal(infoA.state, 'running');
  assert.equal(infoA.weight, 30);
  assert.notEqual(infoA.pid, orphan.pid);
  assert.equal(h.supervisor.info('api', 'b').state, 'held');
  assert.equal(h.lifecycle.filter((e) => e.kind === 'spawn').length, 1, 'exactly one new process');
});

test('a pid reused by an unrelated process is never killed at boot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-sup-'));
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => stranger.kill('SIGKILL'));
  const pid = stranger.pid!;
  await waitFor(() => readStartTime(pid) !== undefined, 15_000, 'sleep started');
  const toml = configText(service('api', 'ok.mjs'));
  const db = openDb(join(dir, 'data', 'tenement.db'));
  const store = new InstanceStore(db);
  store.insert('api', 'a', 100, 'stopped');
  store.recordProcess('api', 'a', 21999, pid, readStartTime(pid)! + 12345);
  db.close();

  const h = await startSupervisor(t, toml, { dir });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.ok(alive(pid), 'the unrelated process is still alive');
  assert.equal(h.supervisor.info('api', 'a').state, 'stopped');
});

test('operations on unknown instances say so', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ok.mjs')));
  for (const op of [() => h.supervisor.start('api', 'ghost'), () => h.supervisor.stop('api', 'ghost'), () => h.supervisor.remove('api', 'ghost')]) {
    await assert.rejects(op(), (e: TenementError) => e.code === 'instance_not_found' && e.message.includes('api:ghost'));
  }
  assert.throws(() => h.supervisor.setWeight('api', 'ghost', 5), (e: TenementError) => e.code === 'instance_not_found');
});

test('a request during an idle stop is not sent to the dying process; the wake waits for it to be gone', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'ignore-sigterm.mjs', 'idle_timeout = 0.3')));
  const first = await h.supervisor.spawn('api', 'a', { wait: true });
  const handle = h.supervisor.get('api', 'a')!;
  await waitFor(() => handle.state === 'idle', 15_000, 'the idle stop to begin');
  assert.ok(alive(first.pid!), 'the old process is still shutting down (it ignores SIGTERM)');
  await h.supervisor.ensureReady(handle);
  assert.ok(!alive(first.pid!), 'the old process was gone before the new one answered');
  assert.notEqual(h.supervisor.info('api', 'a').pid, first.pid);
  const kinds = h.lifecycle.map((e) => e.kind);
  assert.ok(kinds.lastIndexOf('idle') < kinds.lastIndexOf('spawn'), `order: ${kinds.join(', ')}`);
});

test('open connections survive a crash and restart without the count going wrong', async (t) => {
  const h = await startSupervisor(t, configText(service('api', 'crash-after.mjs', 'idle_timeout = 0.3', 'CRASH_AFTER_MS = "300"'), 'max_restarts = 10'));
  await h.supervisor.spawn('api', 'a', { wait: true });
  const handle = h.supervisor.get('api', 'a')!;
  handle.connectionOpened();
  await waitFor(() => h.lifecycle.some((e) => e.kind === 'restart'), 15_000, 'a restart');
  handle.connectionClosed();
  assert.equal(handle.openConnections, 0);
});
