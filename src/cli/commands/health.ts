/**
 * `ten health SERVICE:ID`: prints healthy | degraded | unhealthy | starting | stopped | failed | frozen,
 * with the HTTP status of a failing health check: `unhealthy (500)`.
 * @module
 */
import type { Command } from 'commander';
import { formatInstanceName, parseInstanceName } from '../../core/names.js';
import type { CliContext } from '../command.js';
import { formatHealth } from '../output.js';

export function register(program: Command, ctx: CliContext): void {
  program.command('health')
    .description("print an instance's health: healthy, degraded, unhealthy, starting, stopped, failed or frozen")
    .argument('<instance>', 'SERVICE:ID')
    .action(ctx.action(async (instance: string) => {
      const { service, id } = parseInstanceName(instance);
      return formatHealth(await ctx.client().health(formatInstanceName(service, id)));
    }));
}
