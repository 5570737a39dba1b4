import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TenementError } from '../core/errors.js';
import { openDb, type Db } from '../store/db.js';
import { Authenticator, createToken, ensureAdminToken, FailedAttemptLimiter, listTokens, revokeToken, TOKEN_PREFIX } from './auth.js';
import { codeOf } from '../../test/helpers/error-code.js';

function tempStore(t: { after: (fn: () => void) => void }): { db: Db; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-auth-'));
  const db = openDb(join(dir, 'tenement.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, dir };
}

test('first start creates one admin token and writes it to api_token with mode 0600', (t) => {
  const { db, dir } = tempStore(t);
  assert.deepEqual(ensureAdminToken(db, dir), { created: true });
  assert.deepEqual(ensureAdminToken(db, dir), { created: false });
  const file = join(dir, 'api_token');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const token = readFileSync(file, 'utf8').trim();
  assert.match(token, /^tnm_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(new Authenticator(db).authenticate(`Bearer ${token}`, '127.0.0.1').tenant, null);
});

test('tokens are stored only as hashes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'tenement.db'));
  const { token } = createToken(db, { tenant: 'alice' });
  db.close();
  const files = ['tenement.db', 'tenement.db-wal'].map((f) => { try { return readFileSync(join(dir, f)); } catch { return Buffer.alloc(0); } });
  for (const bytes of files) {
    assert.ok(!bytes.includes(token), 'the clear token is in the store');
    assert.ok(!bytes.includes(token.slice(TOKEN_PREFIX.length)), 'the token body is in the store');
  }
});

test('tenant tokens carry their scope; revoked tokens stop working', (t) => {
  const { db } = tempStore(t);
  const auth = new Authenticator(db);
  const tenant = createToken(db, { tenant: 'alice' });
  assert.deepEqual(auth.authenticate(`Bearer ${tenant.token}`, 'a'), { id: tenant.id, tenant: 'alice' });
  assert.deepEqual(listTokens(db).map((x) => x.id), [tenant.id]);
  revokeToken(db, tenant.id);
  assert.equal(codeOf(() => auth.authenticate(`Bearer ${tenant.token}`, 'a')), 'unauthorized');
  assert.equal(codeOf(() => revokeToken(db, tenant.id)), 'not_found');
  assert.equal(codeOf(() => createToken(db, { tenant: 'Alice' })), 'invalid_name');
});

test('after 10 failed attempts an address gets too_many_attempts, valid tokens still work', (t) => {
  const { db } = tempStore(t);
  const auth = new Authenticator(db);
  const good = createToken(db, { tenant: null });
  const now = 1_000_000;
  for (let i = 0; i < 10; i++) assert.equal(codeOf(() => auth.authenticate('Bearer tnm_wrong', '10.0.0.1', now)), 'unauthorized');
  assert.equal(codeOf(() => auth.authenticate('Bearer tnm_wrong', '10.0.0.1', now + 1000)), 'too_many_attempts');
  assert.equal(codeOf(() => auth.authenticate(`Bearer ${good.token}`, '10.0.0.1', now + 1000)), 'ok');
  assert.equal(codeOf(() => auth.authenticate('Bearer tnm_wrong', '10.0.0.2', now + 1000)), 'unauthorized');
  try {
    auth.authenticate('Bearer tnm_wrong', '10.0.0.1', now + 1000);
  } catch (err) {
    assert.equal((err as TenementError).details?.retryAfterS, 59);
  }
  assert.equal(codeOf(() => auth.authenticate('Bearer tnm_wrong', '10.0.0.1', now + 60_000)), 'unauthorized');
  assert.equal(codeOf(() => auth.authenticate(undefined, '10.0.0.3', now)), 'unauthorized');
});

test('the failed-attempt table stays bounded', () => {
  const limiter = new FailedAttemptLimiter({ maxFailures: 1, windowMs: 60_000, maxAddresses: 3 });
  for (let i = 0; i < 10; i++) limiter.recordFailure(`10.0.0.${i}`, 1000 + i);
  assert.equal(limiter.trackedAddresses, 3);
  assert.ok(limiter.retryAfterS('10.0.0.9', 2000) > 0);
  assert.equal(limiter.retryAfterS('10.0.0.0', 2000), 0);
});
