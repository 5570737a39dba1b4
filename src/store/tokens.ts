/**
 * The tokens table: public id, SHA-256 hash and tenant scope of every API token. Knows nothing of
 * token format or comparison (api/auth.ts owns those); the clear token never reaches this file.
 * @module
 */
import type { Db } from './db.js';

export interface TokenRow {
  readonly id: string;
  readonly hash: Buffer;
  /** Null for admin tokens. */
  readonly tenant: string | null;
  readonly createdAt: number;
}

interface RawTokenRow { id: string; hash: Buffer; tenant: string | null; created_at: number }

function toRow(r: RawTokenRow): TokenRow {
  return { id: r.id, hash: r.hash, tenant: r.tenant, createdAt: r.created_at };
}

export class TokenStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare<[string, Buffer, string | null, number]>('INSERT INTO tokens (id, hash, tenant, created_at) VALUES (?, ?, ?, ?)'),
      byHash: db.prepare<[Buffer], RawTokenRow>('SELECT * FROM tokens WHERE hash = ?'),
      all: db.prepare<[], RawTokenRow>('SELECT * FROM tokens ORDER BY created_at, id'),
      remove: db.prepare<[string]>('DELETE FROM tokens WHERE id = ?'),
      countAdmin: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM tokens WHERE tenant IS NULL'),
    };
  }

  insert(row: TokenRow): void {
    this.stmts.insert.run(row.id, row.hash, row.tenant, row.createdAt);
  }

  findByHash(hash: Buffer): TokenRow | undefined {
    const r = this.stmts.byHash.get(hash);
    return r === undefined ? undefined : toRow(r);
  }

  list(): TokenRow[] {
    return this.stmts.all.all().map(toRow);
  }

  /** True if a token with this id existed. */
  remove(id: string): boolean {
    return this.stmts.remove.run(id).changes > 0;
  }

  hasAdminToken(): boolean {
    return (this.stmts.countAdmin.get()?.n ?? 0) > 0;
  }
}
