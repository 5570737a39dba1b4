/**
 * Resolves the global options into a server URL, token and data dir without loading the config
 * layer: only `[settings] data_dir` is read from the TOML file, with smol-toml.
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { TenementError } from '../core/errors.js';
import { findLocalServers, localServerDir, type LocalServer } from '../core/local-server.js';
import type { GlobalOptions } from './command.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';
const TOKEN_FILE = 'api_token';

/**
 * `--data-dir`; else `[settings] data_dir` of `--config` or ./tenement.toml (relative to that
 * file's folder) when the file is readable; else ./data.
 */
export function resolveDataDir(globals: GlobalOptions, cwd = process.cwd()): string {
  if (globals.dataDir !== undefined) return resolve(cwd, globals.dataDir);
  const configFile = resolve(cwd, globals.config ?? 'tenement.toml');
  const fromConfig = readDataDirSetting(configFile);
  if (fromConfig !== undefined) return resolve(dirname(configFile), fromConfig);
  return resolve(cwd, 'data');
}

function readDataDirSetting(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const settings = (parse(text) as { settings?: { data_dir?: unknown } }).settings;
    return typeof settings?.data_dir === 'string' ? settings.data_dir : undefined;
  } catch {
    // A broken file is `ten serve`'s to report; the client falls back to the default.
    return undefined;
  }
}

export function resolveServer(globals: GlobalOptions, env = process.env): string {
  const server = globals.server ?? env.TENEMENT_SERVER ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new TenementError('usage', `invalid server URL ${JSON.stringify(server)}: expected e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TenementError('usage', `invalid server URL ${JSON.stringify(server)}: use http:// or https://`);
  }
  return server;
}

/** `--token`, else TENEMENT_TOKEN, else the first line of `tokenFile` ({data_dir}/api_token), else none. */
export function resolveToken(globals: GlobalOptions, dataDir: string, env = process.env, tokenFile = resolve(dataDir, TOKEN_FILE)): string | undefined {
  const given = globals.token ?? env.TENEMENT_TOKEN;
  if (given !== undefined && given.trim() !== '') return given.trim();
  try {
    const fromFile = readFileSync(tokenFile, 'utf8').split('\n')[0]?.trim();
    return fromFile === undefined || fromFile === '' ? undefined : fromFile;
  } catch {
    return undefined;
  }
}

export interface Connection {
  readonly server: string;
  readonly token: string | undefined;
}

/**
 * The server and token, each from the first of: `--server` / `--token`; TENEMENT_SERVER /
 * TENEMENT_TOKEN; the record of a `ten serve` running on this machine (see core/local-server.ts);
 * http://127.0.0.1:8080 and `{data_dir}/api_token`.
 */
export function resolveConnection(globals: GlobalOptions, env = process.env, cwd = process.cwd()): Connection {
  const dataDir = resolveDataDir(globals, cwd);
  const local = globals.server === undefined && env.TENEMENT_SERVER === undefined ? pickLocalServer(globals, dataDir, env) : undefined;
  if (local === undefined) return { server: resolveServer(globals, env), token: resolveToken(globals, dataDir, env) };
  return { server: local.url, token: resolveToken(globals, dataDir, env, local.tokenFile) };
}

/**
 * The local server whose data dir is the one this `ten` would use; else, unless `--data-dir`
 * named another, the only one running. Several and none of them ours: the user must choose.
 */
function pickLocalServer(globals: GlobalOptions, dataDir: string, env: NodeJS.ProcessEnv): LocalServer | undefined {
  const servers = findLocalServers(env);
  const same = servers.find((s) => s.dataDir === dataDir);
  if (same !== undefined || globals.dataDir !== undefined) return same;
  if (servers.length <= 1) return servers[0];
  throw new TenementError('usage', `${servers.length} tenement servers run on this machine (${servers.map((s) => `${s.url} with ${s.dataDir}`).join(', ')}): say which`, {
    hint: `pass --server URL or --data-dir DIR, or set TENEMENT_SERVER (found in ${localServerDir(env)})`,
  });
}
