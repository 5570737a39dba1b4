/**
 * API tokens: creation (`tnm_` + 256 random bits, only the SHA-256 kept), bearer checks in constant
 * time, tenant scope, and the per-address limit on failed attempts. The token commands of the CLI
 * load this module directly, so they work with the server stopped.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TenementError } from '../core/errors.js';
import { assertName } from '../core/names.js';
import { AuditLog } from '../store/audit.js';
import type { Db } from '../store/db.js';
import { TokenStore, type TokenRow } from '../store/tokens.js';
import type { AuthToken } from './router.js';

export const TOKEN_PREFIX = 'tnm_';
/** The CLI reads the admin token from here when neither --token nor TENEMENT_TOKEN is given. */
export const TOKEN_FILE = 'api_token';

export interface CreatedToken {
  readonly id: string;
  /** The clear token: shown once, never stored. */
  readonly token: string;
  readonly tenant: string | null;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Creates a token (admin when `tenant` is null, else read-only for instances with that id) and
 * records it in the audit table. Admin tokens are also written to `{dataDir}/api_token` (0600).
 */
export function createToken(db: Db, options: { tenant: string | null; dataDir?: string }): CreatedToken {
  if (options.tenant !== null) assertName('id', options.tenant);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const id = `tok_${randomBytes(4).toString('hex')}`;
  new TokenStore(db).insert({ id, hash: hashToken(token), tenant: options.tenant, createdAt: Date.now() });
  new AuditLog(db).record({ at: Date.now(), tokenId: null, action: 'token.create', target: id, result: 'ok' });
  if (options.tenant === null && options.dataDir !== undefined) writeTokenFile(options.dataDir, token);
  return { id, token, tenant: options.tenant };
}

/** For `ten serve`: on first start (no admin token in the store) create one and write `api_token`. */
export function ensureAdminToken(db: Db, dataDir: string): { created: boolean } {
  if (new TokenStore(db).hasAdminToken()) return { created: false };
  createToken(db, { tenant: null, dataDir });
  return { created: true };
}

export function listTokens(db: Db): Array<Omit<TokenRow, 'hash'>> {
  return new TokenStore(db).list().map(({ id, tenant, createdAt }) => ({ id, tenant, createdAt }));
}

/** Deletes a token at once; requests carrying it get 401 from then on. */
export function revokeToken(db: Db, id: string): void {
  const removed = new TokenStore(db).remove(id);
  new AuditLog(db).record({ at: Date.now(), tokenId: null, action: 'token.revoke', target: id, result: removed ? 'ok' : 'not_found' });
  if (!removed) {
    throw new TenementError('not_found', `no token with id ${JSON.stringify(id)}`, { hint: 'list them with `ten token-list`' });
  }
}

/** Writes the token file atomically, readable by its owner only. */
export function writeTokenFile(dataDir: string, token: string): void {
  const file = join(dataDir, TOKEN_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export interface AuthLimits {
  /** Failed attempts allowed per address within `windowMs` before answering 429. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Bound on the addresses remembered; the oldest is forgotten first. */
  readonly maxAddresses: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = { maxFailures: 10, windowMs: 60_000, maxAddresses: 10_000 };

interface FailureWindow { startedAt: number; failures: number }

/** Counts failed attempts per client address in fixed windows; memory is bounded. */
export class FailedAttemptLimiter {
  private readonly windows = new Map<string, FailureWindow>();
  private readonly limits: AuthLimits;

  constructor(limits: AuthLimits = DEFAULT_AUTH_LIMITS) {
    this.limits = limits;
  }

  /** Seconds until `address` may try again, or 0 if it may now. */
  retryAfterS(address: string, now: number): number {
    const w = this.windows.get(address);
    if (w === undefined || w.failures < this.limits.maxFailures) return 0;
    const remainingMs = w.startedAt + this.limits.windowMs - now;
    if (remainingMs <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return Math.ceil(remainingMs / 1000);
  }

  recordFailure(address: string, now: number): void {
    const w = this.windows.get(address);
    if (w !== undefined && now - w.startedAt < this.limits.windowMs) {
      w.failures += 1;
      return;
    }
    // Re-inserting keeps the Map in window-start order, so the first key is the oldest.
    this.windows.delete(address);
    if (this.windows.size >= this.limits.maxAddresses) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(address, { startedAt: now, failures: 1 });
  }

  get trackedAddresses(): number {
    return this.windows.size;
  }
}

/** Checks `Authorization: Bearer ...` headers against the token store. */
export class Authenticator {
  private readonly tokens: TokenStore;
  private readonly limiter: FailedAttemptLimiter;

  constructor(db: Db, limits: AuthLimits = DEFAULT_AUTH_LIMITS) {
    this.tokens = new TokenStore(db);
    this.limiter = new FailedAttemptLimiter(limits);
  }

  /**
   * The token behind `authorization`. A valid token always works, even from an address that is
   * being limited; a wrong one counts as a failed attempt (`unauthorized`), and past the limit the
   * answer is `too_many_attempts` with `details.retryAfterS`.
   */
  authenticate(authorization: string | undefined, address: string, now = Date.now()): AuthToken {
    const presented = parseBearer(authorization);
    if (presented === undefined) {
      throw new TenementError('unauthorized', 'missing API token: send "Authorization: Bearer TOKEN"', {
        hint: 'the CLI reads --token, TENEMENT_TOKEN or {data_dir}/api_token; create one with `ten token-gen`',
      });
    }
    const found = this.lookup(presented);
    if (found !== undefined) return found;
    const retryAfterS = this.limiter.retryAfterS(address, now);
    if (retryAfterS > 0) {
      throw new TenementError('too_many_attempts', `too many failed token attempts; try again in ${retryAfterS} s`, {
        details: { retryAfterS },
      });
    }
    this.limiter.recordFailure(address, now);
    throw new TenementError('unauthorized', 'invalid API token', { hint: 'check --token / TENEMENT_TOKEN, or create one with `ten token-gen`' });
  }

  private lookup(presented: string): AuthToken | undefined {
    const hash = hashToken(presented);
    const row = this.tokens.findByHash(hash);
    // The lookup is by hash, so timing reveals nothing about the token; the compare is belt and braces.
    if (row === undefined || row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) return undefined;
    return { id: row.id, tenant: row.tenant };
  }
}

function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
