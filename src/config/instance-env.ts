/**
 * What one instance sees: its data dir and its environment (docs/configuration.md). Pure: the server's own
 * environment is passed in, so only a few harmless variables reach tenants (never TENEMENT_TOKEN).
 * @module
 */
import { join } from 'node:path';
import { formatInstanceName } from '../core/names.js';
import type { Config, ServiceConfig, Settings } from './types.js';
import { interpolate } from './interpolate.js';

/** Variables passed through from the server so ordinary programs run (locale, tools on PATH). */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

/** `{data_dir}/{service}/{id}`: the instance's own folder. */
export function instanceDataDir(settings: Pick<Settings, 'dataDir'>, service: string, id: string): string {
  return join(settings.dataDir, service, id);
}

export function buildInstanceEnv(
  config: Config,
  service: ServiceConfig,
  id: string,
  port: number,
  serverEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = serverEnv[key];
    if (value !== undefined) env[key] = value;
  }
  env.DATA_DIR = instanceDataDir(config.settings, service.name, id);
  const values = { name: service.name, id, data_dir: config.settings.dataDir, port };
  for (const [key, template] of Object.entries(service.env)) env[key] = interpolate(template, values);
  // Set last: the proxy reaches the instance only at 127.0.0.1:PORT.
  env.PORT = String(port);
  env.HOST = '127.0.0.1';
  env.TENEMENT_INSTANCE = formatInstanceName(service.name, id);
  return env;
}
