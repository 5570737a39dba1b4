/**
 * `ten reload`: the server re-reads tenement.toml and applies it at once, or changes nothing and
 * prints the error `ten serve` would (exit 2). Prints what changed, one line each.
 * @module
 */
import type { Command } from 'commander';
import type { CliContext } from '../command.js';

export function register(program: Command, ctx: CliContext): void {
  program.command('reload')
    .description('re-read tenement.toml on the server and apply it without a restart (prints what changed)')
    .action(ctx.action(async () => {
      const { changed, diff } = await ctx.client().reload();
      return changed ? diff.join('\n') : 'no change: the server already runs this config';
    }));
}
