/**
 * `ten config [--json]`: the services as the running server loaded them.
 * @module
 */
import type { Command } from 'commander';
import { quote } from 'shell-quote';
import type { ServiceConfigResponse } from '../../api/contract.js';
import type { CliContext } from '../command.js';

/** One row per key, in the server's order: a key added to the schema shows up without a change here. */
export function formatService(s: ServiceConfigResponse): string {
  const rows: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(s)) {
    if (key === 'name' || key === 'instances') continue;
    if (key === 'env') {
      for (const [k, v] of Object.entries(value as Record<string, string>)) rows.push([`env ${k}`, v]);
      continue;
    }
    rows.push(key === 'argv' ? ['command', quote(value as string[])] : [key, formatValue(key, value)]);
  }
  rows.push(['instances', s.instances.length === 0 ? '-' : s.instances.join(', ')]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`[service.${s.name}]`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

/** Service times are the `*_timeout` keys, in seconds. */
function formatValue(key: string, value: unknown): string {
  if (value === null) return key === 'health' ? '(TCP connect)' : '-';
  if (key === 'idle_timeout' && value === 0) return 'never';
  if (key.endsWith('_timeout') && typeof value === 'number') return `${value}s`;
  return String(value);
}

export function register(program: Command, ctx: CliContext): void {
  program.command('config')
    .description('show the services as the running server loaded them')
    .option('--json', 'print JSON')
    .action(ctx.action(async (flags: { json?: boolean }) => {
      const { services } = await ctx.client().config();
      if (flags.json === true) return JSON.stringify(services, null, 2);
      if (services.length === 0) return 'no services configured';
      return services.map(formatService).join('\n\n');
    }));
}
