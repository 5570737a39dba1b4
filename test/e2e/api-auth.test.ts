// Bearer tokens over real HTTP: 401 without or with a wrong token, tenant scoping (allowed and 403),
// the 429 limit on failed attempts while valid tokens keep working, tokens kept across restarts and
// revocable, and never stored in clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { assertNoLeak, runTen, startDaemon, type Daemon, type HttpResult } from '../helpers/daemon.js';

const CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
`;

function get(d: Daemon, path: string, token?: string, method = 'GET', body?: unknown): Promise<HttpResult> {
  return d.http(path, {
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function tokenGen(d: Daemon, tenant?: string): Promise<string> {
  const r = await runTen(['--data-dir', d.dataDir, 'token-gen', ...(tenant === undefined ? [] : ['--tenant', tenant])]);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('  tnm_'));
  assert.ok(line, r.stdout);
  return line.trim();
}

test('tokens guard the API', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  for (const id of ['alice', 'bob']) {
    const r = await get(d, '/api/instances', d.token, 'POST', { service: 'notes', id, wait: true });
    assert.equal(r.status, 201, r.body);
  }

  await t.test('no token or a wrong token is 401', async () => {
    for (const token of [undefined, 'tnm_wrong', '']) {
      const r = await get(d, '/api/instances', token);
      assert.equal(r.status, 401, String(token));
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'unauthorized');
      assertNoLeak(r.body);
    }
  });

  await t.test('a tenant token reads only its own instances and gets 403 elsewhere', async () => {
    const alice = await tokenGen(d, 'alice');
    const list = JSON.parse((await get(d, '/api/instances', alice)).body) as Array<{ instance: string }>;
    assert.deepEqual(list.map((i) => i.instance), ['notes:alice']);
    assert.equal((await get(d, '/api/instances/notes:alice', alice)).status, 200);
    assert.equal((await get(d, '/api/instances/notes:alice/health', alice)).status, 200);
    const forbidden: Array<[string, string, unknown?]> = [
      ['GET', '/api/instances/notes:bob'],
      ['GET', '/api/instances/notes:bob/health'],
      ['POST', '/api/instances/notes:alice/stop'],
      ['POST', '/api/instances', { service: 'notes', id: 'alice' }],
      ['PUT', '/api/instances/notes:alice/weight', { weight: 1 }],
      ['DELETE', '/api/instances/notes:alice'],
      ['POST', '/api/route', { service: 'notes', from: 'alice', to: 'bob' }],
      ['GET', '/api/config'],
    ];
    for (const [method, path, body] of forbidden) {
      const r = await get(d, path, alice, method, body);
      assert.equal(r.status, 403, `${method} ${path}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'forbidden');
    }
    const info = JSON.parse((await get(d, '/api/instances/notes:alice', d.token)).body) as { state: string };
    assert.equal(info.state, 'running', 'the forbidden stop did not happen');
    const db = new Database(join(d.dataDir, 'tenement.db'), { readonly: true });
    const denied = db.prepare("SELECT COUNT(*) AS n FROM audit WHERE result = 'forbidden' AND action = 'instance.stop'").get() as { n: number };
    db.close();
    assert.equal(denied.n, 1, 'the refused mutation is audited');
  });

  await t.test('10 failed attempts from one address → 429 with Retry-After; valid tokens still work', async () => {
    let last: HttpResult | undefined;
    for (let i = 0; i < 12; i++) last = await get(d, '/api/instances', `tnm_guess${i}`);
    assert.equal(last?.status, 429);
    assert.match(String(last?.headers['retry-after']), /^\d+$/);
    assert.equal((JSON.parse(last!.body) as { error: { code: string } }).error.code, 'too_many_attempts');
    assert.equal((await get(d, '/api/instances', d.token)).status, 200);
    assert.equal((await get(d, '/health')).status, 200);
  });

  await t.test('tokens are never stored in clear', async () => {
    const files = readdirSync(d.dataDir).filter((f) => f.startsWith('tenement.db'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = readFileSync(join(d.dataDir, f));
      assert.ok(!bytes.includes(d.token.slice(4)), `${f} holds the admin token in clear`);
    }
  });

  await t.test('tokens survive a restart of the server and can be revoked', async () => {
    const bobToken = await tokenGen(d, 'bob');
    await d.stop();
    const again = await startDaemon(t, { config: CONFIG, dir: d.dir });
    assert.equal(again.token, d.token, 'the admin token file is kept');
    assert.equal((await get(again, '/api/instances', d.token)).status, 200);
    assert.equal((await get(again, '/api/instances/notes:bob', bobToken)).status, 200);
    const list = await runTen(['--data-dir', d.dataDir, 'token-list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const tokens = JSON.parse(list.stdout) as Array<{ id: string; tenant: string | null }>;
    const bob = tokens.find((x) => x.tenant === 'bob');
    assert.ok(bob);
    const revoke = await runTen(['--data-dir', d.dataDir, 'token-revoke', bob.id]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal(revoke.stdout.trim(), `revoked ${bob.id}`);
    assert.equal((await get(again, '/api/instances/notes:bob', bobToken)).status, 401);
  });
});
