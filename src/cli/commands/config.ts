/**
 * `ten config [--json]`: the services as the running server loaded them.
 * @module
 */
import type { Command } from 'commander';
import { quote } from 'shell-quote';
import type { ServiceConfigResponse } from '../../api/contract.js';
import type { CliContext } from '../command.js';

export function formatService(s: ServiceConfigResponse): string {
  const rows: Array<[string, string]> = [
    ['command', quote(s.argv)],
    ['workdir', s.workdir],
    ['health', s.health ?? '(TCP connect)'],
    ['isolation', s.isolation],
    ['idle_timeout', s.idle_timeout === 0 ? 'never' : `${s.idle_timeout}s`],
    ['startup_timeout', `${s.startup_timeout}s`],
    ['request_timeout', `${s.request_timeout}s`],
    ['stop_timeout', `${s.stop_timeout}s`],
    ['restart', s.restart],
    ['storage_persist', String(s.storage_persist)],
    ['memory_limit_mb', s.memory_limit_mb === null ? '-' : String(s.memory_limit_mb)],
    ['cpu_shares', s.cpu_shares === null ? '-' : String(s.cpu_shares)],
    ['storage_quota_mb', s.storage_quota_mb === null ? '-' : String(s.storage_quota_mb)],
    ['auto_spawn', s.auto_spawn ? `true (max_instances ${s.max_instances})` : 'false'],
    ...Object.entries(s.env).map(([k, v]): [string, string] => [`env ${k}`, v]),
    ['instances', s.instances.length === 0 ? '-' : s.instances.join(', ')],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`[service.${s.name}]`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
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
