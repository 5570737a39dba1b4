/**
 * `ten ps [-a] [--json]`: instances with a process (frozen ones too) or failed/held (all registered with -a).
 * @module
 */
import type { Command } from 'commander';
import type { InstanceInfo } from '../../api/contract.js';
import { isListedByDefault } from '../../core/lifecycle.js';
import type { CliContext } from '../command.js';
import { dash, formatDuration, formatHealth, formatTable } from '../output.js';

export const PS_COLUMNS = ['INSTANCE', 'STATE', 'HEALTH', 'PORT', 'PID', 'UPTIME', 'IDLE', 'WEIGHT', 'RESTARTS'] as const;

export function formatPs(instances: readonly InstanceInfo[]): string {
  return formatTable(PS_COLUMNS, instances.map((i) => [
    i.instance, i.state, formatHealth(i), dash(i.port), dash(i.pid), formatDuration(i.uptime_s), formatDuration(i.idle_s),
    String(i.weight), String(i.restarts),
  ]));
}

export function register(program: Command, ctx: CliContext): void {
  program.command('ps')
    .description('list instances (running, starting, unhealthy, failed, held, frozen); -a for all registered')
    .option('-a, --all', 'include idle and stopped instances')
    .option('--json', 'print JSON (an array of instances)')
    .action(ctx.action(async (flags: { all?: boolean; json?: boolean }) => {
      const all = await ctx.client().list();
      const shown = flags.all === true ? all : all.filter((i) => isListedByDefault(i.state));
      if (flags.json === true) return JSON.stringify(shown, null, 2);
      if (shown.length === 0) {
        return all.length === 0
          ? 'no instances registered (start one with `ten spawn SERVICE:ID`)'
          : `no running instances; ${all.length} idle or stopped (\`ten ps -a\` lists them)`;
      }
      return formatPs(shown);
    }));
}
