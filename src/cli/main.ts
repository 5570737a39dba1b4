/**
 * `ten`: registers every command, resolves the global options, and is the one place where errors
 * become `error: <message>` (+ `hint: ...`) and an exit code (0 done, 1 failed, 2 usage/input).
 *
 * Command modules (src/cli/commands/<name>.ts) each export
 *   `register(program: Command, ctx: CliContext): void`   (see ./command.ts)
 * which declares the command on `program` and passes its handler through `ctx.action(...)`:
 *   program.command('health').argument('<instance>').action(ctx.action(async (name: string) => {
 *     return (await ctx.client().health(name)).health;      // returned text is printed to stdout
 *   }));
 * A handler returns a string, nothing, or `{ stdout?, stderr?, exitCode? }`; it never prints
 * (except live progress via `ctx.status()`) and throws `TenementError` for anything that failed.
 * `ctx.client()` is the ApiClient; `ctx.dataDir()` and `ctx.globals()` give the global options.
 * @module
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { exitCodeOf, TenementError, toTenementError } from '../core/errors.js';
import { ApiClient } from './client.js';
import type { CliContext, CommandOutput, GlobalOptions, RegisterCommand } from './command.js';
import { resolveDataDir, resolveServer, resolveToken } from './globals.js';
import { StatusLine } from './output.js';
import { register as caddyCommand } from './commands/caddy.js';
import { register as configCommand } from './commands/config.js';
import { register as deployCommand } from './commands/deploy.js';
import { register as healthCommand } from './commands/health.js';
import { register as initCommand } from './commands/init.js';
import { register as installCommand } from './commands/install.js';
import { register as lifecycleCommands } from './commands/lifecycle.js';
import { register as logsCommand } from './commands/logs.js';
import { register as psCommand } from './commands/ps.js';
import { register as rmCommand } from './commands/rm.js';
import { register as routeCommand } from './commands/route.js';
import { register as serveCommand } from './commands/serve.js';
import { register as spawnCommand } from './commands/spawn.js';
import { register as tokenCommands } from './commands/token.js';
import { register as weightCommand } from './commands/weight.js';

const COMMANDS: readonly RegisterCommand[] = [
  serveCommand, spawnCommand, lifecycleCommands, rmCommand, psCommand, healthCommand, weightCommand,
  configCommand, logsCommand, deployCommand, routeCommand, tokenCommands, initCommand, installCommand, caddyCommand,
];

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('ten')
    .description('tenement: one process per tenant, routed by subdomain')
    .version(VERSION, '-V, --version')
    .option('--data-dir <dir>', 'data folder (tokens, state); default: [settings] data_dir or ./data')
    .option('--config <file>', 'config file (default ./tenement.toml)')
    .option('--server <url>', 'tenement server (env TENEMENT_SERVER; default http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (env TENEMENT_TOKEN; default {data_dir}/api_token)')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  let client: ApiClient | undefined;
  const ctx: CliContext = {
    globals,
    dataDir: () => resolveDataDir(globals()),
    client: () => {
      client ??= new ApiClient(resolveServer(globals()), resolveToken(globals(), resolveDataDir(globals())));
      return client;
    },
    status: () => new StatusLine(process.stdout.isTTY ? process.stderr : process.stdout),
    action: (handler) => async (...args) => {
      printOutput(await handler(...args));
    },
  };
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

let exitCode = 0;
let keepAlive = false;

function printOutput(output: CommandOutput): void {
  if (output === undefined) return;
  const { stdout, stderr, exitCode: code, keepAlive: keep } = typeof output === 'string' ? { stdout: output } : output;
  if (stdout !== undefined && stdout !== '') process.stdout.write(stdout.endsWith('\n') ? stdout : `${stdout}\n`);
  if (stderr !== undefined && stderr !== '') process.stderr.write(stderr.endsWith('\n') ? stderr : `${stderr}\n`);
  exitCode = code ?? 0;
  keepAlive = keep ?? false;
}

/** Runs `ten` with `argv` (node, script, ...args) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return exitCode;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0; everything else is a usage error.
    if (err.exitCode === 0) return 0;
    const message = err.message.replace(/^error:\s*/, '').split('\n')[0] ?? err.message;
    process.stderr.write(`error: ${message}\nhint: see \`ten --help\` or \`ten COMMAND --help\`\n`);
    return 2;
  }
  const e = toTenementError(err);
  const message = e.code === 'internal' && !(err instanceof TenementError) ? `internal error: ${String((err as Error)?.message ?? err)}` : e.message;
  process.stderr.write(`error: ${message.split('\n')[0]}\n${e.hint === undefined ? '' : `hint: ${e.hint}\n`}`);
  return exitCodeOf(e.code);
}

const code = await main(process.argv);
// Exit explicitly (keep-alive sockets of fetch must not hold the CLI open), except for `ten serve`.
if (keepAlive) process.exitCode = code;
else process.exit(code);
