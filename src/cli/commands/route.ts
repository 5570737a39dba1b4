/**
 * `ten route SERVICE --from V1 --to V2`: `from` to weight 0 and `to` to 100 in one store transaction.
 * @module
 */
import type { Command } from 'commander';
import { assertName } from '../../core/names.js';
import type { CliContext } from '../command.js';

export function register(program: Command, ctx: CliContext): void {
  program.command('route')
    .description('move SERVICE traffic from one version to another in one step (from → 0, to → 100)')
    .argument('<service>', 'SERVICE')
    .requiredOption('--from <v>', 'version losing its traffic')
    .requiredOption('--to <v>', 'version getting all traffic')
    .action(ctx.action(async (service: string, flags: { from: string; to: string }) => {
      assertName('service', service);
      assertName('name', flags.from);
      assertName('name', flags.to);
      const { from, to } = await ctx.client().route({ service, from: flags.from, to: flags.to });
      return `${service}: ${from.instance} weight ${from.weight}, ${to.instance} weight ${to.weight}`;
    }));
}
