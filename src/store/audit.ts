/**
 * The audit table: one row per mutation (who, what, on what, how it ended). Append-only.
 * @module
 */
import type { Db } from './db.js';

export interface AuditEntry {
  /** ms since epoch. */
  readonly at: number;
  /** Null when no token was involved (token commands run locally). */
  readonly tokenId: string | null;
  /** e.g. `instance.spawn`, `route`, `token.create`. */
  readonly action: string;
  /** e.g. `notes:alice`, `api`, `tok_3f9a1c2b`. */
  readonly target: string;
  /** `ok` or the error code. */
  readonly result: string;
}

interface RawAuditRow { at: number; token_id: string | null; action: string; target: string; result: string }

export class AuditLog {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare<[number, string | null, string, string, string]>(
        'INSERT INTO audit (at, token_id, action, target, result) VALUES (?, ?, ?, ?, ?)'),
      recent: db.prepare<[number], RawAuditRow>(
        'SELECT at, token_id, action, target, result FROM audit ORDER BY seq DESC LIMIT ?'),
    };
  }

  record(entry: AuditEntry): void {
    this.stmts.insert.run(entry.at, entry.tokenId, entry.action, entry.target, entry.result);
  }

  /** Newest first. */
  recent(limit = 100): AuditEntry[] {
    return this.stmts.recent.all(limit).map((r) => ({
      at: r.at, tokenId: r.token_id, action: r.action, target: r.target, result: r.result,
    }));
  }
}
