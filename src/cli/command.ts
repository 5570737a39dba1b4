/**
 * The shape every `ten` command module follows (see the header of main.ts): a `register` function
 * that declares the command on commander and wires its handler through `ctx.action`, which prints
 * whatever the handler returns. Handlers return output instead of printing it.
 * @module
 */
import type { Command } from 'commander';
import type { ApiClient } from './client.js';
import type { StatusLine } from './output.js';

/** Global options, given before the command: `ten --data-dir D --config F --server U --token T <cmd>`. */
export interface GlobalOptions {
  dataDir?: string;
  config?: string;
  server?: string;
  token?: string;
}

/**
 * What a handler returns: text for stdout, or stdout/stderr text and an exit code (default 0);
 * `keepAlive` leaves the process running after the handler (`ten serve`).
 */
export type CommandOutput = string | void | { stdout?: string; stderr?: string; exitCode?: number; keepAlive?: boolean };

export interface CliContext {
  /** The global options as given (valid once commander has parsed them, i.e. inside handlers). */
  globals(): GlobalOptions;
  /** `--data-dir`, else `[settings] data_dir` of `--config` or ./tenement.toml, else ./data. */
  dataDir(): string;
  /** Client for `--server`/TENEMENT_SERVER, token from `--token`/TENEMENT_TOKEN/{data_dir}/api_token. */
  client(): ApiClient;
  /** Live progress: redrawn on a terminal (stderr), plain lines on stdout otherwise. */
  status(): StatusLine;
  /**
   * Wraps a handler for commander's `.action()`: awaits it and prints what it returns. Errors
   * propagate to main.ts, the one place that turns them into `error: ...` and an exit code.
   */
  action<A extends unknown[]>(handler: (...args: A) => Promise<CommandOutput>): (...args: A) => Promise<void>;
}

export type RegisterCommand = (program: Command, ctx: CliContext) => void;
