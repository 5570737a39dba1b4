/**
 * tenement.toml → a validated, frozen Config: read, parse (smol-toml), validate and convert
 * (schema.ts), then resolve paths. Every failure is one `invalid_config` line.
 * @module
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { TomlError, parse as parseToml } from 'smol-toml';
import type * as z from 'zod';
import { TenementError } from '../core/errors.js';
import { ConfigFileSchema, describeIssue } from './schema.js';
import type { Config } from './types.js';
import { readWakePage } from './wake-page.js';

export interface ConfigOverrides {
  /** `--data-dir`: replaces `[settings] data_dir`; relative to the current directory. */
  readonly dataDir?: string | undefined;
}

interface Where {
  readonly key?: string;
  readonly line?: number;
  readonly column?: number;
}

type Fail = (message: string, where?: Where) => TenementError;

export function loadConfig(file: string, overrides: ConfigOverrides = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[String((err as NodeJS.ErrnoException).code)];
    throw new TenementError('invalid_config', `cannot read config file ${file}: ${reason ?? (err as Error).message}`, {
      hint: 'run `ten init` to write one, or pass --config FILE',
      details: { file: resolve(file) },
      cause: err,
    });
  }
  return parseConfig(text, file, overrides);
}

export function parseConfig(text: string, file: string, overrides: ConfigOverrides = {}): Config {
  const path = resolve(file);
  const fail: Fail = (message, where = {}) =>
    new TenementError('invalid_config', `${[basename(file), where.line, where.column].filter((part) => part !== undefined).join(':')}: ${message}`, {
      details: { file: path, ...where },
    });

  let raw: unknown;
  try {
    raw = parseToml(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml's message is "Invalid TOML document: <what>" followed by a code excerpt.
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw fail(`invalid TOML: ${what}`, { line: err.line, column: err.column });
  }

  const result = ConfigFileSchema.safeParse(raw, { error: describeIssue });
  if (!result.success) {
    // An unknown key first: a typo (`comand`) also makes the real key look missing.
    const issues = result.error.issues;
    const { key, message } = describeLocation(issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0]);
    throw fail(key === '' ? message : `${key}: ${message}`, key === '' ? {} : { key });
  }
  return deepFreeze(resolvePaths(result.data, path, overrides, fail));
}

/** Where a zod issue points, as a TOML key path, and what is wrong there. */
function describeLocation(issue: z.core.$ZodIssue | undefined): { key: string; message: string } {
  if (issue === undefined) return { key: '', message: 'invalid configuration' };
  const path = issue.path.filter((part) => typeof part !== 'symbol');
  const last = path.at(-1);
  // A bad table key is shown beside its table: `service "Bad.Name": invalid name ...`
  if (issue.code === 'invalid_key' && last !== undefined) {
    const table = keyPath(path.slice(0, -1));
    return { key: `${table}${table === '' ? '' : ' '}${JSON.stringify(last)}`, message: issue.issues[0]?.message ?? issue.message };
  }
  return { key: keyPath(path), message: issue.message };
}

/** `service.api.env.DATA_DIR`, `routing.path."/app"`, `instances.notes[1]`. */
function keyPath(parts: (string | number)[]): string {
  return parts
    .map((part, i) => {
      if (typeof part === 'number') return `[${part}]`;
      return `${i > 0 ? '.' : ''}${/^[\w-]+$/.test(part) ? part : JSON.stringify(part)}`;
    })
    .join('');
}

/** Paths in the file are relative to its folder (`--data-dir` to the current directory). */
function resolvePaths(config: z.output<typeof ConfigFileSchema>, path: string, overrides: ConfigOverrides, fail: Fail): Config {
  const folder = dirname(path);
  const dataDir = overrides.dataDir === undefined ? resolve(folder, config.settings.dataDir) : resolve(overrides.dataDir);
  const services = Object.fromEntries(Object.entries(config.services).map(([name, s]) => [name, {
    ...s,
    workdir: resolve(folder, s.workdir),
    wakePage: s.wakePage === undefined ? undefined : loadWakePage(folder, s.wakePage, `service.${name}.wake_page`, fail),
  }]));
  const tls = config.settings.tls;
  const certificates = tls.certificates.map((pair) => {
    const resolved = { ...pair, certFile: resolve(folder, pair.certFile), keyFile: resolve(folder, pair.keyFile) };
    // Checked only when TLS is on: a config kept for later must not stop a plain-HTTP server.
    if (tls.enabled) {
      requireReadable(resolved.certFile, pair.key, fail);
      requireReadable(resolved.keyFile, pair.key.replace('cert_file', 'key_file'), fail);
    }
    return resolved;
  });
  return { file: path, ...config, settings: { ...config.settings, dataDir, tls: { ...tls, certificates } }, services };
}

function requireReadable(file: string, key: string, fail: Fail): void {
  try {
    accessSync(file, fsConstants.R_OK);
  } catch (err) {
    const reason = { ENOENT: 'no such file', EACCES: 'permission denied' }[String((err as NodeJS.ErrnoException).code)] ?? 'cannot be read';
    throw fail(`${key}: ${file}: ${reason}`, { key });
  }
}

/** The waiting page template's text, checked; a problem is a config error naming the key. */
function loadWakePage(folder: string, file: string, key: string, fail: Fail): string {
  try {
    return readWakePage(resolve(folder, file));
  } catch (err) {
    throw fail(`${key}: ${JSON.stringify(file)} ${err instanceof Error ? err.message : String(err)}`, { key });
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
