/**
 * `ten rollout` state: each service's current or most recent rollout and its planned instances,
 * so a restarted server resumes a running rollout (or rolls it back) where the last one left it.
 * Written once per step, never per request.
 * @module
 */
import type { RolloutState } from '../core/events.js';
import type { Db } from './db.js';

export interface RolloutRow {
  readonly service: string;
  readonly cohorts: readonly number[];
  readonly intervalMs: number;
  readonly state: RolloutState;
  /** 0-based index of the cohort in progress (or the last one reached). */
  readonly cohort: number;
  readonly reason: string | null;
  readonly message: string | null;
  readonly startedAt: number;
  readonly updatedAt: number;
  /** In the order they are moved. */
  readonly instances: readonly RolloutInstanceRow[];
}

export interface RolloutInstanceRow {
  readonly id: string;
  /** JSON of the template the instance ran when the rollout began. */
  readonly previousTemplate: string;
  /** ms timestamp it became healthy on the new template; null while not moved. */
  readonly movedAt: number | null;
}

interface RawRollout {
  service: string; cohorts: string; interval_ms: number; state: RolloutState; cohort: number;
  reason: string | null; message: string | null; started_at: number; updated_at: number;
}
interface RawInstance { id: string; previous_template: string; moved_at: number | null }

export class RolloutStore {
  private readonly db: Db;
  private readonly stmts;

  constructor(db: Db) {
    this.db = db;
    this.stmts = {
      all: db.prepare<[], RawRollout>('SELECT * FROM rollouts ORDER BY service'),
      get: db.prepare<[string], RawRollout>('SELECT * FROM rollouts WHERE service = ?'),
      instances: db.prepare<[string], RawInstance>('SELECT id, previous_template, moved_at FROM rollout_instances WHERE service = ? ORDER BY position'),
      remove: db.prepare('DELETE FROM rollouts WHERE service = ?'),
      insert: db.prepare(`INSERT INTO rollouts (service, cohorts, interval_ms, state, cohort, reason, message, started_at, updated_at)
        VALUES (?, ?, ?, ?, 0, NULL, ?, ?, ?)`),
      insertInstance: db.prepare('INSERT INTO rollout_instances (service, id, position, previous_template) VALUES (?, ?, ?, ?)'),
      update: db.prepare('UPDATE rollouts SET state = ?, cohort = ?, reason = ?, message = ?, updated_at = ? WHERE service = ?'),
      setMoved: db.prepare('UPDATE rollout_instances SET moved_at = ? WHERE service = ? AND id = ?'),
    };
  }

  all(): RolloutRow[] {
    return this.stmts.all.all().map((r) => this.toRow(r));
  }

  get(service: string): RolloutRow | undefined {
    const r = this.stmts.get.get(service);
    return r === undefined ? undefined : this.toRow(r);
  }

  /** Replaces the service's previous rollout (one is kept per service). */
  create(row: Omit<RolloutRow, 'state' | 'cohort' | 'reason' | 'updatedAt'>): void {
    this.db.transaction(() => {
      this.stmts.remove.run(row.service);
      this.stmts.insert.run(row.service, JSON.stringify(row.cohorts), row.intervalMs, 'running', row.message, row.startedAt, row.startedAt);
      row.instances.forEach((i, position) => this.stmts.insertInstance.run(row.service, i.id, position, i.previousTemplate));
    })();
  }

  update(service: string, change: { state: RolloutState; cohort: number; reason: string | null; message: string | null; at: number }): void {
    this.stmts.update.run(change.state, change.cohort, change.reason, change.message, change.at, service);
  }

  /** `at` null: back on its previous template (rolled back). */
  setMoved(service: string, id: string, at: number | null): void {
    this.stmts.setMoved.run(at, service, id);
  }

  private toRow(r: RawRollout): RolloutRow {
    return {
      service: r.service, cohorts: JSON.parse(r.cohorts) as number[], intervalMs: r.interval_ms, state: r.state, cohort: r.cohort,
      reason: r.reason, message: r.message, startedAt: r.started_at, updatedAt: r.updated_at,
      instances: this.stmts.instances.all(r.service).map((i) => ({ id: i.id, previousTemplate: i.previous_template, movedAt: i.moved_at })),
    };
  }
}
