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
import { resolveConnection, resolveDataDir } from './globals.js';
import { StatusLine } from './output.js';

interface CommandModule {
  /** The commands the module registers. */
  readonly names: readonly string[];
  readonly load: () => Promise<{ register: RegisterCommand }>;
}

/** In `ten --help` order. Only the module of the command typed is loaded (start-up time is the cost of `ten ps`). */
const COMMANDS: readonly CommandModule[] = [
  { names: ['serve'], load: () => import('./commands/serve.js') },
  { names: ['spawn'], load: () => import('./commands/spawn.js') },
  { names: ['start', 'restart', 'wake', 'stop'], load: () => import('./commands/lifecycle.js') },
  { names: ['rm'], load: () => import('./commands/rm.js') },
  { names: ['ps'], load: () => import('./commands/ps.js') },
  { names: ['reload'], load: () => import('./commands/reload.js') },
  { names: ['rollout'], load: () => import('./commands/rollout.js') },
  { names: ['health'], load: () => import('./commands/health.js') },
  { names: ['weight'], load: () => import('./commands/weight.js') },
  { names: ['config'], load: () => import('./commands/config.js') },
  { names: ['logs'], load: () => import('./commands/logs.js') },
  { names: ['deploy'], load: () => import('./commands/deploy.js') },
  { names: ['route'], load: () => import('./commands/route.js') },
  { names: ['token-gen', 'token-list', 'token-revoke'], load: () => import('./commands/token.js') },
  { names: ['init'], load: () => import('./commands/init.js') },
  { names: ['install'], load: () => import('./commands/install.js') },
  { names: ['caddy'], load: () => import('./commands/caddy.js') },
];

/** Global options that take a value (`--server URL`), to find the command name after them. */
const GLOBALS_WITH_VALUE = new Set(['--data-dir', '--config', '--server', '--token']);

/** The command typed (`ten --server U ps -a` → `ps`), or undefined. */
function commandName(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (GLOBALS_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** The module of the command typed; every module for help, an unknown command or none. */
function modulesFor(args: readonly string[]): readonly CommandModule[] {
  const name = commandName(args);
  const only = COMMANDS.find((m) => name !== undefined && m.names.includes(name));
  return only === undefined ? COMMANDS : [only];
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('ten')
    .description('tenement: one process per tenant, routed by subdomain')
    .version(VERSION, '-V, --version')
    .option('--data-dir <dir>', 'data folder (tokens, state); default: [settings] data_dir or ./data')
    .option('--config <file>', 'config file (default ./tenement.toml)')
    .option('--server <url>', 'tenement server (env TENEMENT_SERVER; else the ten serve running on this machine; else http://127.0.0.1:8080)')
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
      if (client === undefined) {
        const { server, token } = resolveConnection(globals());
        client = new ApiClient(server, token);
      }
      return client;
    },
    status: () => new StatusLine(process.stdout.isTTY ? process.stderr : process.stdout),
    action: (handler) => async (...args) => {
      printOutput(await handler(...args));
    },
  };
  const modules = await Promise.all(modulesFor(args).map((m) => m.load()));
  for (const { register } of modules) register(program, ctx);
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
    await (await buildProgram(argv.slice(2))).parseAsync(argv);
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

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// A reader that went away (`ten logs -f | head`) ends the command quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => process.exit(exitCode));

const code = await main(process.argv);
if (keepAlive) {
  process.exitCode = code;
} else {
  // Exit explicitly (nothing left behind may hold the CLI open), but only once the
  // output is out: a pipe takes 64 KiB at a time and process.exit() drops whatever is still queued.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
