/**
 * `ten reload` / SIGHUP / `POST /api/reload`: re-read tenement.toml, check it as `ten serve` would,
 * and put it in effect in one step — or change nothing and say why. See docs in README
 * ("Changing the config without a restart").
 * @module
 */
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import type { Config, Settings } from '../config/types.js';
import { TenementError } from '../core/errors.js';
import { hasProcess } from '../core/lifecycle.js';
import type { InstanceInfo } from './types.js';
import type { Supervisor } from './supervisor.js';
import { changedServiceKeys, processKeys } from './templates.js';

export interface ReloadResult {
  /** False when the file says what is already in effect. */
  readonly changed: boolean;
  /** One line per change: `+ service web`, `- service old`, `~ notes: command, env changed — …`. */
  readonly diff: readonly string[];
}

/** Settings read once at start (listener, store, port allocator, log writer): a reload keeps them. */
const RESTART_ONLY_SETTINGS = [
  'dataDir', 'portRange', 'logRetentionDays', 'logRetentionMb', 'publicMetrics', 'tls', 'maxSseClients', 'autoSpawnPerMinute',
  'maxConnections', 'trustedProxies', 'uidRange', 'portFence',
] as const;
const SETTING_KEYS: Record<keyof Settings, string> = {
  dataDir: 'data_dir', healthCheckIntervalMs: 'health_check_interval', maxRestarts: 'max_restarts',
  restartWindowMs: 'restart_window', backoffBaseMs: 'backoff_base_ms', backoffMaxMs: 'backoff_max_ms',
  portRange: 'port_range', logRetentionDays: 'log_retention_days', logRetentionMb: 'log_retention_mb',
  publicMetrics: 'public_metrics', tls: 'tls', maxSseClients: 'max_sse_clients', autoSpawnPerMinute: 'auto_spawn_per_minute',
  minFreeMb: 'min_free_mb', maxConnections: 'max_connections', trustedProxies: 'trusted_proxies',
  uidRange: 'uid_range', portFence: 'port_fence',
};

export class ConfigReloader {
  private readonly supervisor: Supervisor;
  private readonly file: string;
  private readonly overrides: ConfigOverrides;
  /** Reloads run one at a time (SIGHUP and the API may race). */
  private running: Promise<ReloadResult> = Promise.resolve({ changed: false, diff: [] });

  constructor(supervisor: Supervisor, file: string, overrides: ConfigOverrides) {
    this.supervisor = supervisor;
    this.file = file;
    this.overrides = overrides;
  }

  /** Throws `invalid_config` (the line `ten serve` would print) and changes nothing when refused. */
  reload(): Promise<ReloadResult> {
    const next = this.running.catch(() => undefined).then(() => this.reloadNow());
    this.running = next;
    return next;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const { supervisor } = this;
    const loaded = loadConfig(this.file, this.overrides);
    const plan = planReload(supervisor.config, loaded, supervisor.list());
    if (plan.refusal !== undefined) throw plan.refusal;
    if (plan.diff.length === 0) return { changed: false, diff: [] };
    supervisor.applyConfig(plan.config);
    // `[instances]` ids new to this file are registered and started, as `ten serve` does at boot.
    for (const [service, ids] of Object.entries(plan.config.instances)) {
      for (const id of ids) {
        if (supervisor.get(service, id) === undefined) await supervisor.spawn(service, id);
      }
    }
    return { changed: true, diff: plan.diff };
  }
}

export interface ReloadPlan {
  /** What to put in effect: the new file, with the settings that need a restart kept as they are. */
  readonly config: Config;
  readonly diff: string[];
  readonly refusal?: TenementError;
}

/** Compares the config in effect with a newly loaded one; pure, for tests and for the dry run. */
export function planReload(current: Config, loaded: Config, instances: readonly InstanceInfo[]): ReloadPlan {
  const diff: string[] = [];
  const byService = new Map<string, InstanceInfo[]>();
  for (const i of instances) byService.set(i.service, [...(byService.get(i.service) ?? []), i]);

  for (const name of Object.keys(loaded.services)) {
    if (!Object.hasOwn(current.services, name)) diff.push(`+ service ${name}`);
  }
  const blocked: string[] = [];
  for (const name of Object.keys(current.services)) {
    if (Object.hasOwn(loaded.services, name)) continue;
    const registered = byService.get(name) ?? [];
    if (registered.length > 0) blocked.push(name);
    else diff.push(`- service ${name}`);
  }
  if (blocked.length > 0) {
    const names = blocked.flatMap((s) => (byService.get(s) ?? []).map((i) => i.instance));
    const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    return {
      config: current, diff,
      refusal: new TenementError('invalid_config', `cannot remove service ${blocked.join(', ')}: it still has instances (${shown}); nothing was changed`, {
        hint: `remove them first (\`ten rm ${names[0]}\` for each), or keep the [service.${blocked[0]}] table`,
      }),
    };
  }
  for (const [name, next] of Object.entries(loaded.services)) {
    const before = current.services[name];
    if (before === undefined) continue;
    const keys = changedServiceKeys(before, next);
    if (keys.length === 0) continue;
    const registered = byService.get(name) ?? [];
    const running = registered.filter((i) => hasProcess(i.state)).length;
    const resting = registered.length - running;
    const counts = registered.length === 0 || processKeys(keys).length === 0 ? '' : ` — ${running} running on the old template until restarted or rolled out, ${resting} idle or stopped start on the new one`;
    diff.push(`~ ${name}: ${keys.join(', ')} changed${counts}`);
  }

  const settings: Record<string, unknown> = { ...loaded.settings };
  for (const key of Object.keys(SETTING_KEYS) as Array<keyof Settings>) {
    if (JSON.stringify(current.settings[key]) === JSON.stringify(loaded.settings[key])) continue;
    const restartOnly = (RESTART_ONLY_SETTINGS as readonly string[]).includes(key);
    if (restartOnly) settings[key] = current.settings[key];
    diff.push(`~ settings.${SETTING_KEYS[key]} changed${restartOnly ? ' — takes effect when ten serve restarts' : ''}`);
  }
  if (JSON.stringify(current.routing) !== JSON.stringify(loaded.routing)) diff.push('~ routing changed');
  if (JSON.stringify(current.instances) !== JSON.stringify(loaded.instances)) diff.push('~ instances changed');
  const config = { ...loaded, settings: settings as Settings };
  return { config, diff };
}
