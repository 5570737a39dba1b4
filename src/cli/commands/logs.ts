/**
 * `ten logs [SERVICE[:ID]] [-f] [--search TEXT] [--stream stdout|stderr] [--since 10m] [--limit N] [--json]`:
 * stored instance logs, newest last; `-f` then follows new lines live (GET /api/logs/stream).
 * @module
 */
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

/** `2026-11-29T10:00:00.123Z notes:alice stderr | the line` */
export function formatLogLine(l: LogLine): string {
  return `${l.time} ${l.instance} ${l.stream.padEnd(6)} | ${l.line}`;
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
        return options.json === true ? JSON.stringify(lines, null, 2) : lines.map(formatLogLine).join('\n');
      }
      const limit = query.get('limit');
      query.delete('limit');
      query.set('tail', limit ?? '100');
      await follow(client, query, options.json === true);
      throw new TenementError('server_unreachable', 'the server closed the log stream', { hint: 'is `ten serve` still running?' });
    }));
};

/** Prints each `log` event as it arrives until the stream ends. Printing directly: output is live. */
async function follow(client: ApiClient, query: URLSearchParams, json: boolean): Promise<void> {
  const body = await client.openStream(`/api/logs/stream?${query}`);
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const field of block.split('\n')) {
        if (field.startsWith('event: ')) event = field.slice(7);
        else if (field.startsWith('data: ')) data += field.slice(6);
      }
      if (event === 'log') {
        const line = JSON.parse(data) as LogLine;
        process.stdout.write(`${json ? JSON.stringify(line) : formatLogLine(line)}\n`);
      } else if (event === 'skipped') {
        const { count } = JSON.parse(data) as { count: number };
        process.stderr.write(`[ten] ${count} lines skipped: this terminal fell behind the log stream\n`);
      }
    }
  }
}
