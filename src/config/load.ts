/**
 * tenement.toml → a validated, frozen Config: read, parse (smol-toml), validate (schema.ts), then
 * resolve paths, convert seconds to ms and split `command`. Every failure is one `invalid_config` line.
 * @module
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseShellWords } from 'shell-quote';
import { TomlError, parse as parseToml } from 'smol-toml';
import type * as z from 'zod';
import { TenementError } from '../core/errors.js';
import { ConfigFileSchema, describeIssue } from './schema.js';
import type { ConfigFile, ServiceFile } from './schema.js';
import type { Config, ServiceConfig, Settings } from './types.js';

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
  return deepFreeze(toConfig(result.data, path, overrides, fail));
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

function toConfig(file: ConfigFile, path: string, overrides: ConfigOverrides, fail: Fail): Config {
  const folder = dirname(path);
  const s = file.settings;
  const settings: Settings = {
    dataDir: overrides.dataDir === undefined ? resolve(folder, s.data_dir) : resolve(overrides.dataDir),
    healthCheckIntervalMs: toMs(s.health_check_interval),
    maxRestarts: s.max_restarts,
    restartWindowMs: toMs(s.restart_window),
    backoffBaseMs: s.backoff_base_ms,
    backoffMaxMs: s.backoff_max_ms,
    portRange: s.port_range,
    logRetentionDays: s.log_retention_days,
    logRetentionMb: s.log_retention_mb,
    publicMetrics: s.public_metrics,
    maxConnections: s.max_connections,
    trustedProxies: s.trusted_proxies,
    tls: { enabled: s.tls.enabled, domain: s.tls.domain, acmeEmail: s.tls.acme_email, acmeDirectory: s.tls.acme_directory },
  };
  const services = Object.fromEntries(Object.entries(file.service).map(([name, service]) => [name, toService(name, service, folder, fail)]));
  return {
    file: path,
    settings,
    services,
    instances: file.instances,
    routing: { default: file.routing.default, subdomain: file.routing.subdomain, path: file.routing.path },
  };
}

function toService(name: string, s: ServiceFile, folder: string, fail: Fail): ServiceConfig {
  return {
    name,
    argv: s.args.length > 0 ? [s.command, ...s.args] : splitCommand(s.command, `service.${name}.command`, fail),
    workdir: resolve(folder, s.workdir),
    health: s.health,
    isolation: s.isolation,
    idleTimeoutMs: toMs(s.idle_timeout),
    startupTimeoutMs: toMs(s.startup_timeout),
    requestTimeoutMs: toMs(s.request_timeout),
    stopTimeoutMs: toMs(s.stop_timeout),
    restart: s.restart,
    storagePersist: s.storage_persist,
    memoryLimitMb: s.memory_limit_mb,
    cpuShares: s.cpu_shares,
    storageQuotaMb: s.storage_quota_mb,
    autoSpawn: s.auto_spawn,
    maxInstances: s.max_instances,
    env: s.env,
  };
}

/** Shell-style words (quotes and backslashes work); anything a shell would interpret is refused. */
function splitCommand(command: string, key: string, fail: Fail): string[] {
  // Variables come back as tokens (not expanded to ""), so `$HOME` is refused like `|`.
  const tokens = parseShellWords(command, (name) => ({ op: `$${name}` }));
  const words: string[] = [];
  for (const token of tokens) {
    if (typeof token === 'string') {
      words.push(token);
      continue;
    }
    const shown = 'comment' in token ? `#${token.comment}` : 'pattern' in token ? token.pattern : token.op;
    throw fail(
      `${key}: ${JSON.stringify(shown)} needs a shell, and tenement runs the command without one ` +
        '(use command = "sh" and args = ["-c", "..."])',
      { key },
    );
  }
  return words;
}

const toMs = (secondsValue: number): number => Math.round(secondsValue * 1000);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
