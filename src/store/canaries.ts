/**
 * Canary deploys (docs/api.md `/api/deploys`): the latest one of each service, written at each
 * step change (never per request), read at boot to resume a canary a restart interrupted.
 * @module
 */
import type { Db } from './db.js';

export interface CanaryRow {
  readonly service: string;
  readonly version: string;
  readonly state: string;
  readonly steps: readonly number[];
  readonly step: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly stableWeights: Readonly<Record<string, number>>;
  readonly reason: string | null;
  readonly verdicts: readonly string[];
  readonly startedAt: number;
  readonly updatedAt: number;
}

interface RawRow {
  service: string; version: string; state: string; steps: string; step: number; interval_ms: number; timeout_ms: number;
  stable_weights: string; reason: string | null; verdicts: string; started_at: number; updated_at: number;
}

export class CanaryStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      all: db.prepare<[], RawRow>('SELECT * FROM canary_deploys ORDER BY service'),
      save: db.prepare(`INSERT OR REPLACE INTO canary_deploys
        (service, version, state, steps, step, interval_ms, timeout_ms, stable_weights, reason, verdicts, started_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    };
  }

  all(): CanaryRow[] {
    return this.stmts.all.all().map((r) => ({
      service: r.service, version: r.version, state: r.state, steps: JSON.parse(r.steps) as number[], step: r.step,
      intervalMs: r.interval_ms, timeoutMs: r.timeout_ms, stableWeights: JSON.parse(r.stable_weights) as Record<string, number>,
      reason: r.reason, verdicts: JSON.parse(r.verdicts) as string[], startedAt: r.started_at, updatedAt: r.updated_at,
    }));
  }

  save(r: CanaryRow): void {
    this.stmts.save.run(r.service, r.version, r.state, JSON.stringify(r.steps), r.step, r.intervalMs, r.timeoutMs,
      JSON.stringify(r.stableWeights), r.reason, JSON.stringify(r.verdicts), r.startedAt, r.updatedAt);
  }
}
