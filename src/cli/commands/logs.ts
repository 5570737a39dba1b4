/**
 * `ten logs [SERVICE[:ID]] [-f] [--search TEXT] [--stream stdout|stderr] [--since 10m] [--limit N] [--json]`:
 * stored instance logs, newest last; `-f` then follows new lines live (GET /api/logs/stream).
 * @module
 */
import { once } from 'node:events';
import { TenementError } from '../../core/errors.js';
import { assertName, parseInstanceName } from '../../core/names.js';
import type { LogLine } from '../../api/contract.js';
import type { ApiClient } from '../client.js';
import type { RegisterCommand } from '../command.js';

interface LogsOptions {
  follow?: boolean;
  search?: string;
  stream?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

/** `2026-11-29T10:00:00.123Z notes:alice stderr | the line`, the line's control characters made visible. */
export function formatLogLine(l: LogLine): string {
  return `${l.time} ${l.instance} ${l.stream.padEnd(6)} | ${showControls(l.line)}`;
}

/**
 * C0 controls but tab, DEL, C1 controls and bidirectional marks, which a tenant could use to drive
 * the reader's terminal or disguise a line: shown as `\x1b` / `\u202e` instead of sent raw.
 */
function isHidden(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f)
    || code === 0x200e || code === 0x200f || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
}

export function showControls(text: string): string {
  return replaceHidden(text, (code) => (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`));
}

/** JSON.stringify leaves DEL, C1 and bidi marks raw; as `\u` escapes the JSON means the same. */
export function jsonWithoutControls(value: unknown, indent?: number): string {
  // Below 0x20 JSON escapes them already, and the layout's own newlines must stay.
  return replaceHidden(JSON.stringify(value, null, indent), (code) => `\\u${code.toString(16).padStart(4, '0')}`, 0x7f);
}

function replaceHidden(text: string, escape: (code: number) => string, lowest = 0): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < lowest || !isHidden(code)) continue;
    out += text.slice(from, i) + escape(code);
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** The query string both routes take; names are checked here so a typo is a usage error (exit 2). */
export function logsQuery(target: string | undefined, options: LogsOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (target !== undefined) {
    if (target.includes(':')) {
      const { service, id } = parseInstanceName(target);
      q.set('service', service);
      q.set('id', id);
    } else {
      q.set('service', assertName('service', target));
    }
  }
  if (options.stream !== undefined) {
    if (options.stream !== 'stdout' && options.stream !== 'stderr' && options.stream !== 'event') {
      throw new TenementError('usage', `invalid --stream ${JSON.stringify(options.stream)}: use stdout, stderr or event`);
    }
    q.set('stream', options.stream);
  }
  if (options.search !== undefined) q.set('search', options.search);
  if (options.since !== undefined) q.set('since', options.since);
  if (options.limit !== undefined) q.set('limit', options.limit);
  return q;
}

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('logs')
    .description('show instance logs, newest last (stdout, stderr and lifecycle events)')
    .argument('[target]', 'SERVICE or SERVICE:ID (default: every instance you may read)')
    .option('-f, --follow', 'after the last lines, keep printing new ones as they arrive')
    .option('--search <text>', 'only lines containing all these words')
    .option('--stream <stream>', 'only stdout, stderr or event (lifecycle) lines')
    .option('--since <when>', 'only lines since a duration ago (30s, 10m, 2h, 1d) or an ISO time')
    .option('--limit <n>', 'at most this many of the newest lines (default 100, max 10000)')
    .option('--json', 'JSON: an array, or one object per line with -f')
    .action(ctx.action(async (target: string | undefined, options: LogsOptions) => {
      const query = logsQuery(target, options);
      const client = ctx.client();
      if (options.follow !== true) {
        const lines = await client.request<LogLine[]>('GET', `/api/logs?${query}`);
        return options.json === true ? jsonWithoutControls(lines, 2) : lines.map(formatLogLine).join('\n');
      }
      const limit = query.get('limit');
      query.delete('limit');
      query.set('tail', limit ?? '100');
      if (await follow(client, query, options.json === true) === 'closed') return;
      throw new TenementError('server_unreachable', 'the server closed the log stream', { hint: 'is `ten serve` still running?' });
    }));
};

/**
 * Prints each `log` event as it arrives. The server drops a reader that falls too far behind (a
 * slow terminal or pipe); then this reconnects after the last line printed, so no line is lost.
 * Resolves 'ended' when the server ends the stream (a reconnect brings nothing new), or 'closed'
 * when whoever reads our output has gone (`ten logs -f | head`).
 */
async function follow(client: ApiClient, query: URLSearchParams, json: boolean): Promise<'ended' | 'closed'> {
  const out = new Output();
  let lastEventId: string | undefined;
  for (;;) {
    const before = lastEventId;
    const body = await client.openStream(`/api/logs/stream?${query}`, lastEventId === undefined ? {} : { lastEventId });
    try {
      for await (const event of sseEvents(body)) {
        if (event.id !== undefined) lastEventId = event.id;
        if (event.event !== 'log') continue;
        const line = JSON.parse(event.data) as LogLine;
        if (!await out.write(`${json ? jsonWithoutControls(line) : formatLogLine(line)}\n`)) return 'closed';
      }
    } catch {
      // The connection was cut (dropped as too slow, or the server went away): try to resume.
    }
    if (out.isClosed) return 'closed';
    if (lastEventId === undefined || lastEventId === before) return 'ended';
  }
}

/** stdout with back-pressure: a slow reader of our output slows our reading of the stream, never grows our memory. */
class Output {
  isClosed = false;

  constructor() {
    process.stdout.on('error', () => { this.isClosed = true; });
  }

  /** False once the reader has gone (EPIPE). */
  async write(text: string): Promise<boolean> {
    if (this.isClosed) return false;
    if (!process.stdout.write(text)) {
      await Promise.race([once(process.stdout, 'drain'), once(process.stdout, 'close')]).catch(() => undefined);
    }
    return !this.isClosed;
  }
}

export interface SseEvent { event: string; data: string; id: string | undefined }

export async function* sseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event: SseEvent = { event: 'message', data: '', id: undefined };
      for (const field of block.split('\n')) {
        if (field.startsWith('event: ')) event.event = field.slice(7);
        else if (field.startsWith('data: ')) event.data += field.slice(6);
        else if (field.startsWith('id: ')) event.id = field.slice(4);
      }
      yield event;
    }
  }
}
