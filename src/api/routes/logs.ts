/**
 * `GET /api/logs` (stored lines, newest last) and `GET /api/logs/stream` (server-sent events: the
 * last `tail` lines, then live), with the same filters: service (alias process), id, stream,
 * search, since, limit. A tenant token reads only its own id's logs.
 * @module
 */
import { TenementError } from '../../core/errors.js';
import { assertName, formatInstanceName } from '../../core/names.js';
import type { LogCapture } from '../../observability/log-capture.js';
import { DEFAULT_LOG_LIMIT, LOG_STREAMS, MAX_LOG_LIMIT, type LogQuery, type LogRecord, type LogStore, type LogStream } from '../../store/logs.js';
import type { LogLine } from '../contract.js';
import type { ApiRoute, RequestContext } from '../router.js';

export interface LogRouteDeps {
  readonly store: LogStore;
  /** `flush` resolves once every line accepted before it is committed (queries then see them). */
  readonly capture: Pick<LogCapture, 'follow' | 'flush'>;
  /** SSE keep-alive comment period (default 15 s), so proxies don't close a quiet stream. */
  readonly heartbeatMs?: number;
}

/** A stream whose reader is this far behind skips lines (and says so) instead of buffering more. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: a duration back from now (`30s`, `10m`, `2h`, `1d`, `1w`) or an ISO 8601 time. */
export function parseSince(text: string, now = Date.now()): number {
  const relative = /^(\d+)(s|m|h|d|w)$/.exec(text);
  if (relative !== null) return now - Number(relative[1]) * UNIT_MS[relative[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new TenementError('bad_request', `invalid since ${JSON.stringify(text.slice(0, 40))}: use a duration such as 30s, 10m, 2h, 1d, or an ISO time such as 2026-11-29T10:00:00Z`);
  }
  return at;
}

function parseCount(text: string | null, name: string, fallback: number): number {
  if (text === null || text === '') return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new TenementError('bad_request', `invalid ${name} ${JSON.stringify(text.slice(0, 20))}: use a whole number from 1 to ${MAX_LOG_LIMIT}`);
  }
  return Math.min(Number(text), MAX_LOG_LIMIT);
}

function param(ctx: RequestContext, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = ctx.query.get(name);
    if (value !== null && value !== '') return value;
  }
  return undefined;
}

/** The filters of both routes, scoped to the token's tenant. */
function readFilter(ctx: RequestContext): LogQuery {
  const service = param(ctx, 'service', 'process');
  if (service !== undefined) assertName('service', service);
  let id = param(ctx, 'id');
  if (id !== undefined) assertName('id', id);
  const stream = param(ctx, 'stream');
  if (stream !== undefined && !LOG_STREAMS.includes(stream as LogStream)) {
    throw new TenementError('bad_request', `invalid stream ${JSON.stringify(stream.slice(0, 20))}: use stdout, stderr or event`);
  }
  const tenant = ctx.token?.tenant ?? null;
  if (tenant !== null) {
    if (id === undefined) id = tenant;
    else ctx.assertCanRead(service ?? '', id);
  }
  const since = param(ctx, 'since');
  return {
    service, id,
    stream: stream as LogStream | undefined,
    search: param(ctx, 'search'),
    sinceMs: since === undefined ? undefined : parseSince(since),
  };
}

function toLogLine(r: LogRecord): LogLine {
  return { seq: r.seq, time: new Date(r.at).toISOString(), instance: formatInstanceName(r.service, r.id), service: r.service, id: r.id, stream: r.stream, line: r.line };
}

/** The live twin of the store's filter: every search word must appear in the line (any case). */
function liveMatcher(f: LogQuery): (r: LogRecord) => boolean {
  const words = (f.search ?? '').toLowerCase().split(/\s+/).filter((w) => w !== '');
  return (r) => (f.service === undefined || r.service === f.service)
    && (f.id === undefined || r.id === f.id)
    && (f.stream === undefined || r.stream === f.stream)
    && (words.length === 0 || words.every((w) => r.line.toLowerCase().includes(w)));
}

export function logRoutes(deps: LogRouteDeps): ApiRoute[] {
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  return [
    {
      method: 'GET', path: '/api/logs', auth: 'read',
      handler: async (ctx) => {
        const filter = readFilter(ctx);
        const limit = parseCount(ctx.query.get('limit'), 'limit', DEFAULT_LOG_LIMIT);
        // Lines accepted but not yet written are included: what was printed is what is found.
        await deps.capture.flush();
        return { body: deps.store.query({ ...filter, limit }).map(toLogLine) };
      },
    },
    {
      method: 'GET', path: '/api/logs/stream', auth: 'read',
      handler: async (ctx) => {
        const filter = readFilter(ctx);
        const tail = parseCount(ctx.query.get('tail'), 'tail', 0);
        const resumeFrom = ctx.req.headers['last-event-id'] ?? param(ctx, 'after');
        const afterSeq = typeof resumeFrom === 'string' && /^\d+$/.test(resumeFrom) ? Number(resumeFrom) : undefined;
        const { res } = ctx;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.write(': connected\n\n');

        let skipped = 0;
        const send = (r: LogRecord): void => {
          if (res.writableLength > MAX_BUFFERED_BYTES) {
            skipped += 1;
            return;
          }
          if (skipped > 0) {
            res.write(`event: skipped\ndata: ${JSON.stringify({ count: skipped })}\n\n`);
            skipped = 0;
          }
          res.write(`id: ${r.seq}\nevent: log\ndata: ${JSON.stringify(toLogLine(r))}\n\n`);
        };

        // History, then live. Following starts first and holds live lines back while the flush
        // and the query run; those the history already holds (seq up to its last) are not sent
        // again, so no line falls between the two and none is sent twice.
        const matches = liveMatcher(filter);
        let held: LogRecord[] | undefined = [];
        const unfollow = deps.capture.follow((r) => {
          if (!matches(r)) return;
          if (held === undefined) send(r);
          else held.push(r);
        });
        const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
        heartbeat.unref();
        res.once('close', () => {
          clearInterval(heartbeat);
          unfollow();
        });
        await deps.capture.flush();
        if (res.destroyed) return;
        const history = afterSeq !== undefined
          ? deps.store.query({ ...filter, sinceMs: undefined, afterSeq, limit: MAX_LOG_LIMIT })
          : tail > 0 ? deps.store.query({ ...filter, limit: tail }) : [];
        for (const r of history) send(r);
        const sentUpTo = history.at(-1)?.seq ?? 0;
        for (const r of held) if (r.seq > sentUpTo) send(r);
        held = undefined;
      },
    },
  ];
}
