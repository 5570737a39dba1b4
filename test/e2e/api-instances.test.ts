// The management API over real HTTP against a real `ten serve`: instance routes, their success and
// failure statuses, error bodies, and the audit trail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { assertNoLeak, startDaemon, type Daemon, type HttpResult } from '../helpers/daemon.js';

const CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
startup_timeout = 10
`;

function api(d: Daemon, method: string, path: string, body?: unknown, token = d.token): Promise<HttpResult> {
  return d.http(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function errorCode(r: HttpResult): string {
  return (JSON.parse(r.body) as { error: { code: string } }).error.code;
}

test('instance routes answer with the documented statuses', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });

  await t.test('/health needs no token', async () => {
    const r = await d.http('/health');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  });

  await t.test('spawn with wait answers 201 with a healthy instance', async () => {
    const r = await api(d, 'POST', '/api/instances', { service: 'notes', id: 'alice', wait: true });
    assert.equal(r.status, 201, r.body);
    const info = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(info.instance, 'notes:alice');
    assert.equal(info.state, 'running');
    assert.equal(info.health, 'healthy');
    assert.equal(info.weight, 100);
    assert.equal(typeof info.port, 'number');
  });

  await t.test('spawning a running instance again is 409', async () => {
    const r = await api(d, 'POST', '/api/instances', { service: 'notes', id: 'alice' });
    assert.equal(r.status, 409);
    assert.equal(errorCode(r), 'already_exists');
    assertNoLeak(r.body, { ports: [d.port] });
  });

  await t.test('the original spelling "process" is accepted for "service"', async () => {
    const r = await api(d, 'POST', '/api/instances', { process: 'notes', id: 'bob', weight: 30, wait: true });
    assert.equal(r.status, 201, r.body);
    assert.equal((JSON.parse(r.body) as { weight: number }).weight, 30);
  });

  await t.test('bad names and weights are 400 with their own codes', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/instances', { service: 'notes', id: '../x' }, 'invalid_name'],
      ['POST', '/api/instances', { service: 'NOTES', id: 'a' }, 'invalid_name'],
      ['POST', '/api/instances', { service: 'notes', id: 'a', weight: 101 }, 'invalid_weight'],
      ['POST', '/api/instances', { service: 'notes' }, 'bad_request'],
      ['GET', '/api/instances/notes:..%2Fx', undefined, 'invalid_name'],
      ['GET', '/api/instances/NOTES:a', undefined, 'invalid_name'],
      ['PUT', '/api/instances/notes:alice/weight', { weight: 101 }, 'invalid_weight'],
      ['PUT', '/api/instances/notes:alice/weight', { weight: 'abc' }, 'invalid_weight'],
    ];
    for (const [method, path, body, code] of cases) {
      const r = await api(d, method, path, body);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.body}`);
      assert.equal(errorCode(r), code);
      assertNoLeak(r.body);
    }
    const notJson = await d.http('/api/instances', { method: 'POST', headers: { authorization: `Bearer ${d.token}` }, body: '{' });
    assert.equal(notJson.status, 400);
  });

  await t.test('unknown services and instances are 404', async () => {
    const svc = await api(d, 'POST', '/api/instances', { service: 'nope', id: 'a' });
    assert.equal(svc.status, 404);
    assert.equal(errorCode(svc), 'service_not_found');
    for (const [method, path] of [['GET', '/api/instances/notes:ghost'], ['GET', '/api/instances/notes:ghost/health'],
      ['POST', '/api/instances/notes:ghost/stop'], ['DELETE', '/api/instances/notes:ghost'], ['GET', '/api/nothing-here']] as const) {
      const r = await api(d, method, path);
      assert.equal(r.status, 404, `${method} ${path}: ${r.body}`);
      assertNoLeak(r.body);
    }
  });

  await t.test('list, info, health and weight', async () => {
    const list = JSON.parse((await api(d, 'GET', '/api/instances')).body) as Array<{ instance: string }>;
    assert.deepEqual(list.map((i) => i.instance).sort(), ['notes:alice', 'notes:bob']);
    const health = await api(d, 'GET', '/api/instances/notes:alice/health');
    assert.deepEqual(JSON.parse(health.body), { instance: 'notes:alice', health: 'healthy', health_check_status: null, state: 'running' });
    const weight = await api(d, 'PUT', '/api/instances/notes:alice/weight', { weight: 40 });
    assert.equal(weight.status, 200);
    assert.equal((JSON.parse((await api(d, 'GET', '/api/instances/notes:alice')).body) as { weight: number }).weight, 40);
  });

  await t.test('stop --hold, start and restart', async () => {
    const held = await api(d, 'POST', '/api/instances/notes:bob/stop?hold=true');
    assert.equal(held.status, 200, held.body);
    assert.equal((JSON.parse(held.body) as { state: string }).state, 'held');
    const started = await api(d, 'POST', '/api/instances/notes:bob/start', { wait: true });
    assert.equal(started.status, 200, started.body);
    assert.equal((JSON.parse(started.body) as { state: string }).state, 'running');
    const restarted = await api(d, 'POST', '/api/instances/notes:bob/restart?wait=true');
    assert.equal(restarted.status, 200, restarted.body);
    assert.equal((JSON.parse(restarted.body) as { health: string }).health, 'healthy');
  });

  await t.test('remove deletes the registration', async () => {
    const r = await api(d, 'DELETE', '/api/instances/notes:bob?purge=true');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { instance: 'notes:bob', removed: true, purged: true });
    assert.equal((await api(d, 'GET', '/api/instances/notes:bob')).status, 404);
  });

  await t.test('server info and config are reported', async () => {
    const server = JSON.parse((await api(d, 'GET', '/api/server')).body) as { domain: string; port: number };
    assert.deepEqual([server.domain, server.port], ['localhost', d.port]);
    const config = JSON.parse((await api(d, 'GET', '/api/config')).body) as { services: Array<{ name: string; health: string }> };
    assert.deepEqual(config.services.map((s) => [s.name, s.health]), [['notes', '/health']]);
  });

  await t.test('every mutation is in the audit table, with token id and result', () => {
    const db = new Database(join(d.dataDir, 'tenement.db'), { readonly: true });
    t.after(() => db.close());
    const rows = db.prepare('SELECT token_id, action, target, result FROM audit ORDER BY seq').all() as Array<Record<string, string | null>>;
    const spawn = rows.find((r) => r.action === 'instance.spawn' && r.target === 'notes:alice' && r.result === 'ok');
    assert.ok(spawn, JSON.stringify(rows));
    assert.match(String(spawn.token_id), /^tok_/);
    assert.ok(rows.some((r) => r.action === 'instance.spawn' && r.result === 'already_exists'));
    assert.ok(rows.some((r) => r.action === 'instance.weight' && r.target === 'notes:alice'));
    assert.ok(rows.some((r) => r.action === 'instance.remove' && r.target === 'notes:bob'));
    assert.ok(!rows.some((r) => String(r.action).startsWith('GET')), 'reads are not audited');
  });
});
