/**
 * Registered instances and their restart history: the dynamic config that survives restarts of
 * `ten serve`. Written on state changes only, never per request.
 * @module
 */
import type { DesiredState } from '../core/lifecycle.js';
import type { Db } from './db.js';

export interface InstanceRow {
  readonly service: string;
  readonly id: string;
  readonly desiredState: DesiredState;
  readonly weight: number;
  readonly port: number | null;
  readonly pid: number | null;
  readonly startTime: number | null;
  readonly failed: boolean;
  readonly createdAt: number;
  readonly restarts: number;
  /** The tenant uid (= gid) allocated to it; null until its first start as root. */
  readonly uid: number | null;
  /** Where reading its process's output files continues (see supervisor/output-files.ts). */
  readonly stdoutOffset: number;
  readonly stderrOffset: number;
  /** JSON of the service template the recorded process was started from (null: unknown). */
  readonly template: string | null;
}

export interface OutputOffsetsRow {
  readonly service: string;
  readonly id: string;
  readonly stdout: number;
  readonly stderr: number;
}

interface RawRow {
  service: string; id: string; desired_state: DesiredState; weight: number; port: number | null;
  pid: number | null; start_time: number | null; failed: number; created_at: number; restarts: number; uid: number | null;
  stdout_offset: number; stderr_offset: number; template: string | null;
}

const SELECT = `SELECT i.*, (SELECT COUNT(*) FROM restarts r WHERE r.service = i.service AND r.id = i.id) AS restarts
  FROM instances i`;

function toRow(r: RawRow): InstanceRow {
  return {
    service: r.service, id: r.id, desiredState: r.desired_state, weight: r.weight, port: r.port, pid: r.pid,
    startTime: r.start_time, failed: r.failed === 1, createdAt: r.created_at, restarts: r.restarts, uid: r.uid,
    stdoutOffset: r.stdout_offset, stderrOffset: r.stderr_offset, template: r.template,
  };
}

export class InstanceStore {
  private readonly db: Db;
  private readonly stmts;

  constructor(db: Db) {
    this.db = db;
    this.stmts = {
      all: db.prepare<[], RawRow>(`${SELECT} ORDER BY i.service, i.id`),
      get: db.prepare<[string, string], RawRow>(`${SELECT} WHERE i.service = ? AND i.id = ?`),
      insert: db.prepare(`INSERT OR IGNORE INTO instances (service, id, desired_state, weight, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?)`),
      setDesired: db.prepare(`UPDATE instances SET desired_state = ?, failed = ?, updated_at = ? WHERE service = ? AND id = ?`),
      setFailed: db.prepare(`UPDATE instances SET failed = ?, updated_at = ? WHERE service = ? AND id = ?`),
      setRunning: db.prepare(`UPDATE instances SET desired_state = 'running', failed = 0, weight = ?, updated_at = ? WHERE service = ? AND id = ?`),
      setWeight: db.prepare(`UPDATE instances SET weight = ?, updated_at = ? WHERE service = ? AND id = ?`),
      recordProcess: db.prepare(`UPDATE instances SET port = ?, pid = ?, start_time = ?, template = ?, stdout_offset = 0, stderr_offset = 0, updated_at = ?
        WHERE service = ? AND id = ?`),
      setOffsets: db.prepare(`UPDATE instances SET stdout_offset = ?, stderr_offset = ? WHERE service = ? AND id = ?`),
      clearProcess: db.prepare(`UPDATE instances SET pid = NULL, start_time = NULL, updated_at = ? WHERE service = ? AND id = ?`),
      setUid: db.prepare(`UPDATE instances SET uid = ?, updated_at = ? WHERE service = ? AND id = ?`),
      uids: db.prepare<[], { uid: number }>(`SELECT uid FROM instances WHERE uid IS NOT NULL`),
      remove: db.prepare(`DELETE FROM instances WHERE service = ? AND id = ?`),
      addRestart: db.prepare(`INSERT INTO restarts (service, id, at, reason) VALUES (?, ?, ?, ?)`),
    };
  }

  all(): InstanceRow[] {
    return this.stmts.all.all().map(toRow);
  }

  get(service: string, id: string): InstanceRow | undefined {
    const r = this.stmts.get.get(service, id);
    return r === undefined ? undefined : toRow(r);
  }

  /** Registers; false if it already was. */
  insert(service: string, id: string, weight: number, desired: DesiredState): boolean {
    const now = Date.now();
    return this.stmts.insert.run(service, id, desired, weight, now, now).changes === 1;
  }

  setDesired(service: string, id: string, desired: DesiredState, failed = false): void {
    this.stmts.setDesired.run(desired, failed ? 1 : 0, Date.now(), service, id);
  }

  setFailed(service: string, id: string, failed: boolean): void {
    this.stmts.setFailed.run(failed ? 1 : 0, Date.now(), service, id);
  }

  /** `ten spawn` of a stopped registration: desired running, not failed, this weight (one write). */
  setRunning(service: string, id: string, weight: number): void {
    this.stmts.setRunning.run(weight, Date.now(), service, id);
  }

  setWeight(service: string, id: string, weight: number): void {
    this.stmts.setWeight.run(weight, Date.now(), service, id);
  }

  /** All or nothing: a route swap never leaves one weight changed and the other not. */
  setWeights(changes: ReadonlyArray<{ service: string; id: string; weight: number }>): void {
    this.db.transaction(() => {
      for (const c of changes) this.setWeight(c.service, c.id, c.weight);
    })();
  }

  recordProcess(service: string, id: string, port: number, pid: number, startTime: number, template: string | null = null): void {
    this.stmts.recordProcess.run(port, pid, startTime, template, Date.now(), service, id);
  }

  /** One transaction for all: written about once a second, and at shutdown. */
  setOutputOffsets(rows: readonly OutputOffsetsRow[]): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const r of rows) this.stmts.setOffsets.run(r.stdout, r.stderr, r.service, r.id);
    })();
  }

  clearProcess(service: string, id: string): void {
    this.stmts.clearProcess.run(Date.now(), service, id);
  }

  setUid(service: string, id: string, uid: number): void {
    this.stmts.setUid.run(uid, Date.now(), service, id);
  }

  /** Every tenant uid held by a registration. */
  usedUids(): Set<number> {
    return new Set(this.stmts.uids.all().map((r) => r.uid));
  }

  remove(service: string, id: string): void {
    this.stmts.remove.run(service, id);
  }

  addRestart(service: string, id: string, at: number, reason: string): void {
    this.stmts.addRestart.run(service, id, at, reason);
  }
}
