/**
 * `ten rm SERVICE:ID [--purge]`: deletes the registration (and with --purge the data dir).
 * @module
 */
import type { Command } from 'commander';
import { formatInstanceName, parseInstanceName } from '../../core/names.js';
import type { CliContext } from '../command.js';

export function register(program: Command, ctx: CliContext): void {
  program.command('rm')
    .description('stop an instance and delete its registration (data kept unless --purge)')
    .argument('<instance>', 'SERVICE:ID')
    .option('--purge', 'also delete its data dir')
    .action(ctx.action(async (instance: string, flags: { purge?: boolean }) => {
      const { service, id } = parseInstanceName(instance);
      const res = await ctx.client().remove(formatInstanceName(service, id), { purge: flags.purge === true });
      return res.purged ? `removed ${res.instance} and its data` : `removed ${res.instance} (data kept; --purge deletes it)`;
    }));
}
