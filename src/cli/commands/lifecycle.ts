/**
 * `ten start | stop [--hold] | restart | wake SERVICE:ID`: start and restart wait until healthy
 * (with progress) unless `--no-wait`; stop `--hold` keeps traffic from waking the instance; wake
 * starts waking (or thawing) a sleeping instance ahead of its users and returns at once.
 * @module
 */
import type { Command } from 'commander';
import { formatInstanceName, parseInstanceName } from '../../core/names.js';
import type { CliContext } from '../command.js';
import { waitWithProgress } from './progress.js';

export function register(program: Command, ctx: CliContext): void {
  for (const verb of ['start', 'restart'] as const) {
    program.command(verb)
      .description(verb === 'start' ? 'start a registered instance; waits until healthy' : 'restart an instance (also clears failed); waits until healthy')
      .argument('<instance>', 'SERVICE:ID')
      .option('--no-wait', 'return without waiting for health')
      .action(ctx.action(async (instance: string, flags: { wait: boolean }) => {
        const { service, id } = parseInstanceName(instance);
        const name = formatInstanceName(service, id);
        const client = ctx.client();
        const call = () => (verb === 'start' ? client.start(name, { wait: flags.wait }) : client.restart(name, { wait: flags.wait }));
        if (!flags.wait) return `${verb === 'start' ? 'started' : 'restarted'} ${name} (${(await call()).state})`;
        const { info, elapsed } = await waitWithProgress(ctx, name, verb === 'start' ? 'starting' : 'restarting', call, async () => (await client.info(name)).state);
        return `${name} is ${info.health} (${elapsed})`;
      }));
  }

  program.command('wake')
    .description('start waking (or thawing) a sleeping instance ahead of its first request; returns at once')
    .argument('<instance>', 'SERVICE:ID')
    .action(ctx.action(async (instance: string) => {
      const { service, id } = parseInstanceName(instance);
      const name = `${service}:${id}`;
      const info = await ctx.client().wake(name);
      return `waking ${name} (${info.state})`;
    }));

  program.command('stop')
    .description('stop an instance; the next request wakes it again unless --hold')
    .argument('<instance>', 'SERVICE:ID')
    .option('--hold', 'keep it stopped: traffic gets 503 until `ten start`')
    .action(ctx.action(async (instance: string, flags: { hold?: boolean }) => {
      const { service, id } = parseInstanceName(instance);
      const name = formatInstanceName(service, id);
      const hold = flags.hold === true;
      await ctx.client().stop(name, { hold });
      return hold ? `held ${name} (requests get 503 until \`ten start ${name}\`)` : `stopped ${name}`;
    }));
}
