/**
 * The logs repository: instance output and lifecycle events in the `logs` table with its FTS5
 * index (migration 003). Batched inserts, filtered queries (newest last), retention deletes.
 * @module
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

export type LogStream = 'stdout' | 'stderr' | 'event';
export const LOG_STREAMS: readonly LogStream[] = ['stdout', 'stderr', 'event'];

export interface LogRecord {
  /** Insertion order, assigned by the writer; also the SSE event id. */
  readonly seq: number;
  /** ms since the epoch. */
  readonly at: number;
  readonly service: string;
  readonly id: string;
  readonly stream: LogStream;
  readonly line: string;
}

export interface LogQuery {
  readonly service?: string | undefined;
  readonly id?: string | undefined;
  readonly stream?: LogStream | undefined;
  /** Only lines at or after this time (ms since the epoch). */
  readonly sinceMs?: number | undefined;
  /** Only lines stored after this seq (to resume a follow). */
  readonly afterSeq?: number | undefined;
  /** Words a line must all contain; plain text, never FTS syntax. */
  readonly search?: string | undefined;
  /** Default DEFAULT_LOG_LIMIT, at most MAX_LOG_LIMIT. */
  readonly limit?: number | undefined;
  /** Take the oldest `limit` matches instead of the newest (to page forward from `afterSeq`). */
  readonly oldest?: boolean | undefined;
}

export const DEFAULT_LOG_LIMIT = 100;
export const MAX_LOG_LIMIT = 10_000;

export interface SearchPlan {
  /** An FTS5 query of quoted strings (implicit AND), or undefined if no word is indexable. */
  readonly match: string | undefined;
  /** Tokens without a letter or digit (e.g. `->`), matched as substrings instead. */
  readonly substrings: readonly string[];
}

const HAS_WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Turns user text into a safe search: every whitespace-separated token becomes one FTS5 string
 * (`"..."`, inner quotes doubled), so `foo* OR` means the words foo and or, never a prefix or an OR.
 */
export function planSearch(text: string): SearchPlan {
  const words: string[] = [];
  const substrings: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (HAS_WORD_CHAR.test(token)) words.push(`"${token.replaceAll('"', '""')}"`);
    else substrings.push(token);
  }
  return { match: words.length > 0 ? words.join(' ') : undefined, substrings };
}

interface LogRow {
  seq: number;
  at: number;
  service: string;
  id: string;
  stream: LogStream;
  line: string;
}

export class LogStore {
  private readonly db: Db;
  private readonly insertOne: Statement<[number, number, string, string, string, string]>;
  private readonly insertMany: (records: readonly LogRecord[]) => void;
  private readonly queries = new Map<string, Statement<unknown[], LogRow>>();

  constructor(db: Db) {
    this.db = db;
    this.insertOne = db.prepare('INSERT INTO logs (seq, at, service, id, stream, line) VALUES (?, ?, ?, ?, ?, ?)');
    this.insertMany = db.transaction((records: readonly LogRecord[]) => {
      for (const r of records) this.insertOne.run(r.seq, r.at, r.service, r.id, r.stream, r.line);
    });
  }

  /** The highest seq stored (0 when empty): the writer continues after it. */
  lastSeq(): number {
    const row = this.db.prepare('SELECT max(seq) AS seq FROM logs').get() as { seq: number | null };
    return row.seq ?? 0;
  }

  /** Stores a batch in one transaction. */
  insert(records: readonly LogRecord[]): void {
    if (records.length > 0) this.insertMany(records);
  }

  /** Matching lines, the newest `limit` of them (the oldest with `oldest`), oldest first. */
  query(q: LogQuery): LogRecord[] {
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? DEFAULT_LOG_LIMIT), 1), MAX_LOG_LIMIT);
    const plan = q.search === undefined ? { match: undefined, substrings: [] } : planSearch(q.search);
    const where: string[] = [];
    const params: unknown[] = [];
    if (plan.match !== undefined) {
      where.push('seq IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)');
      params.push(plan.match);
    }
    for (const s of plan.substrings) {
      where.push('instr(line, ?) > 0');
      params.push(s);
    }
    if (q.service !== undefined) { where.push('service = ?'); params.push(q.service); }
    if (q.id !== undefined) { where.push('id = ?'); params.push(q.id); }
    if (q.stream !== undefined) { where.push('stream = ?'); params.push(q.stream); }
    if (q.sinceMs !== undefined) { where.push('at >= ?'); params.push(q.sinceMs); }
    if (q.afterSeq !== undefined) { where.push('seq > ?'); params.push(q.afterSeq); }
    params.push(limit);
    const sql = `SELECT seq, at, service, id, stream, line FROM logs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${q.oldest === true ? 'ASC' : 'DESC'} LIMIT ?`;
    // One prepared statement per filter shape; there are few shapes.
    let stmt = this.queries.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare<unknown[], LogRow>(sql);
      this.queries.set(sql, stmt);
    }
    const rows = stmt.all(...params);
    return q.oldest === true ? rows : rows.reverse();
  }

  /** Deletes up to `maxRows` lines older than `cutoffMs`, oldest first; returns how many. */
  deleteOlderThan(cutoffMs: number, maxRows: number): number {
    return this.db
      .prepare('DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE at < ? ORDER BY at LIMIT ?)')
      .run(cutoffMs, maxRows).changes;
  }

  /** Deletes the `rows` oldest lines; returns how many. */
  deleteOldest(rows: number): number {
    return this.db.prepare('DELETE FROM logs WHERE seq IN (SELECT seq FROM logs ORDER BY seq LIMIT ?)').run(rows).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM logs').get() as { n: number }).n;
  }

  /**
   * Bytes of the store in use (pages minus free pages). Logs and their index are nearly all of
   * it, and this is O(1) where summing line lengths would scan every row.
   */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Folds up to `pages` pages of FTS5 segments together, which is what frees the index space of
   * deleted lines. Returns whether there was work to do (call again until false).
   */
  compactIndex(pages: number): boolean {
    const before = this.totalChanges();
    // A negative budget merges whatever segments there are, not only once enough have piled up.
    this.db.prepare("INSERT INTO logs_fts (logs_fts, rank) VALUES ('merge', ?)").run(-pages);
    return this.totalChanges() - before > 1;
  }

  private totalChanges(): number {
    return (this.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  }
}
