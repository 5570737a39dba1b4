/**
 * `ten deploy SERVICE:V | SERVICE --version V [--weight N] [--timeout S]`: spawn the version, wait
 * until healthy, then give it weight; on failure the other versions keep their weights.
 * @module
 */
import type { Command } from 'commander';
import { parseSeconds, parseTarget, parseWeight } from '../args.js';
import type { CliContext } from '../command.js';
import { formatElapsed } from '../output.js';

interface DeployFlags { version?: string; weight?: number; timeout?: number }

export function register(program: Command, ctx: CliContext): void {
  program.command('deploy')
    .description('spawn SERVICE:VERSION, wait until healthy, then give it weight (other versions untouched on failure)')
    .argument('<target>', 'SERVICE:VERSION, or SERVICE with --version')
    .option('--version <v>', 'version (when the first argument is only SERVICE)')
    .option('--weight <n>', 'weight once healthy, 0-100 (default 100)', parseWeight)
    .option('--timeout <s>', 'seconds to wait for health (default 60)', parseSeconds)
    .action(ctx.action(async (target: string, flags: DeployFlags) => {
      const { service, id: version } = parseTarget(target, flags.version, 'version');
      const status = ctx.status();
      const started = Date.now();
      status.update(`deploying ${service}:${version} …`, `deploying ${service}:${version}`);
      try {
        const { instance } = await ctx.client().deploy({
          service, version,
          ...(flags.weight === undefined ? {} : { weight: flags.weight }),
          ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        });
        return `deployed ${instance.instance}: ${instance.health}, weight ${instance.weight} (${formatElapsed(Date.now() - started)})`;
      } finally {
        status.clear();
      }
    }));
}
