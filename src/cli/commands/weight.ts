/**
 * `ten weight SERVICE:ID N`: the instance's share (0-100) of `{service}.{domain}` traffic.
 * @module
 */
import type { Command } from 'commander';
import { formatInstanceName, parseInstanceName } from '../../core/names.js';
import { parseWeight } from '../args.js';
import type { CliContext } from '../command.js';

export function register(program: Command, ctx: CliContext): void {
  program.command('weight')
    .description('set the share (0-100) of SERVICE.DOMAIN traffic an instance gets')
    .argument('<instance>', 'SERVICE:ID')
    .argument('<weight>', '0-100')
    .action(ctx.action(async (instance: string, weight: string) => {
      const { service, id } = parseInstanceName(instance);
      const info = await ctx.client().setWeight(formatInstanceName(service, id), parseWeight(weight));
      return `${info.instance} weight ${info.weight}`;
    }));
}
