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
import type { SseStreams } from '../sse.js';

export interface LogRouteDeps {
  readonly store: LogStore;
  /** `flush` resolves once every line accepted before it is committed (queries then see them). */
  readonly capture: Pick<LogCapture, 'follow' | 'flush'>;
  /** Shared with /api/events: the cap on open streams, and dropping clients that stop reading. */
  readonly sse: SseStreams;
}

/** Live lines kept back while the history is sent; past this the client is too far behind. */
const MAX_HELD_LINES = 10_000;
/** Lines per store query when a resumed stream catches up. */
const RESUME_PAGE = 1000;

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
        const stream = deps.sse.start(ctx.res, ': connected\n\n');
        // A client dropped for falling behind resumes where it was with Last-Event-ID.
        const send = (r: LogRecord): void => {
          stream.write(`id: ${r.seq}\nevent: log\ndata: ${JSON.stringify(toLogLine(r))}\n\n`);
        };

        // History, then live. Following starts first and holds live lines back while the flush
        // and the query run; those the history already holds (seq up to its last) are not sent
        // again, so no line falls between the two and none is sent twice.
        const matches = liveMatcher(filter);
        let held: LogRecord[] | undefined = [];
        const unfollow = deps.capture.follow((r) => {
          if (!matches(r)) return;
          if (held === undefined) send(r);
          else if (held.length < MAX_HELD_LINES) held.push(r);
          // A client still reading its history this far behind is dropped; it resumes by Last-Event-ID.
          else stream.drop();
        });
        stream.onClose(unfollow);
        await deps.capture.flush();
        if (stream.isClosed) return;
        // History can be megabytes: it goes out as fast as the client reads, not all at once. A
        // resumed stream pages forward from where the client was, so a long gap loses nothing.
        let sentUpTo = 0;
        const sendAll = async (records: readonly LogRecord[]): Promise<boolean> => {
          for (const r of records) {
            send(r);
            sentUpTo = r.seq;
            if (!await stream.drained()) return false;
          }
          return true;
        };
        if (afterSeq !== undefined) {
          sentUpTo = afterSeq;
          for (;;) {
            const page = deps.store.query({ ...filter, sinceMs: undefined, afterSeq: sentUpTo, limit: RESUME_PAGE, oldest: true });
            if (!await sendAll(page)) return;
            if (page.length < RESUME_PAGE) break;
          }
        } else if (tail > 0 && !await sendAll(deps.store.query({ ...filter, limit: tail }))) {
          return;
        }
        for (const r of held) if (r.seq > sentUpTo) send(r);
        held = undefined;
      },
    },
  ];
}
