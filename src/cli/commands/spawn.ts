/**
 * `ten spawn SERVICE:ID | SERVICE --id ID [--weight N] [--no-wait]`: registers and starts an
 * instance, shows progress until it is healthy, and prints its URL. One HTTP call: the spawn
 * answer carries the outcome and the URL.
 * @module
 */
import type { Command } from 'commander';
import { formatInstanceName } from '../../core/names.js';
import { parseTarget, parseWeight } from '../args.js';
import type { CliContext } from '../command.js';
import { waitWithProgress } from './progress.js';

interface SpawnFlags { id?: string; weight?: number; wait: boolean }

export function register(program: Command, ctx: CliContext): void {
  program.command('spawn')
    .description('register an instance and start it; waits until healthy and prints its URL')
    .argument('<instance>', 'SERVICE:ID, or SERVICE with --id')
    .option('--id <id>', 'instance id (when the first argument is only SERVICE)')
    .option('--weight <n>', 'share of SERVICE.DOMAIN traffic, 0-100 (default 100)', parseWeight)
    .option('--no-wait', 'return once registered, without waiting for health')
    .action(ctx.action(async (instance: string, flags: SpawnFlags) => {
      const { service, id } = parseTarget(instance, flags.id, 'id');
      const name = formatInstanceName(service, id);
      const client = ctx.client();
      const body = { service, id, wait: flags.wait, ...(flags.weight === undefined ? {} : { weight: flags.weight }) };
      if (!flags.wait) {
        const info = await client.spawn(body);
        return `spawned ${name} (${info.state})\n${info.url}`;
      }
      const { info, elapsed } = await waitWithProgress(ctx, name, 'spawning', () => client.spawn(body));
      return `${name} is ${info.health} (${elapsed})\n${info.url}`;
    }));
}
