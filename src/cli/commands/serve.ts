/**
 * `ten serve [--port 8080] [--bind 127.0.0.1] [--domain localhost]`: loads the daemon side
 * (src/serve.ts) only when asked, so client commands stay light.
 * @module
 */
import type { Command } from 'commander';
import { parsePort } from '../args.js';
import type { CliContext } from '../command.js';

interface ServeFlags { port?: number; bind?: string; domain?: string; config?: string; dataDir?: string; stopInstancesOnExit?: boolean }

export function register(program: Command, ctx: CliContext): void {
  program.command('serve')
    .description('run the tenement server (proxy, API, dashboard) in the foreground')
    .option('--port <port>', 'port for everything (default 8080)', parsePort)
    .option('--bind <address>', 'address to listen on (default 127.0.0.1)')
    .option('--domain <domain>', 'base domain (default localhost)')
    // Also accepted after `serve`, where people type them (`ten serve --config prod.toml`).
    .option('--config <file>', 'config file (default ./tenement.toml)')
    .option('--data-dir <dir>', 'overrides [settings] data_dir')
    .option('--stop-instances-on-exit', 'stop every instance when the server exits (default: leave them running; the next ten serve adopts them)')
    .action(ctx.action(async (flags: ServeFlags) => {
      const config = flags.config ?? ctx.globals().config;
      const dataDir = flags.dataDir ?? ctx.globals().dataDir;
      const { serve } = await import('../../serve.js');
      await serve({
        ...(config === undefined ? {} : { config }),
        ...(dataDir === undefined ? {} : { dataDir }),
        ...(flags.port === undefined ? {} : { port: flags.port }),
        ...(flags.bind === undefined ? {} : { bind: flags.bind }),
        ...(flags.domain === undefined ? {} : { domain: flags.domain }),
        stopInstancesOnExit: flags.stopInstancesOnExit === true,
      });
      return { keepAlive: true };
    }));
}
