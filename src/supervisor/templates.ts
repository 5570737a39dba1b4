/**
 * Service templates compared: which `[service.X]` keys a reload changed, which template an adopted
 * process runs, and restarting an instance on a given one (see docs in README, "Changes without downtime").
 * @module
 */
import type { ServiceConfig } from '../config/types.js';
import type { InstanceRow, InstanceStore } from '../store/instances.js';
import type { Instance } from './instance.js';

/**
 * The template an adopted process was started from: the config's own object when it is the same
 * (so it is not outdated), the recorded one when a reload changed it before the restart.
 */
export function recordedTemplate(row: InstanceRow, current: ServiceConfig): ServiceConfig {
  if (row.template === null) return current;
  const recorded = JSON.parse(row.template) as ServiceConfig;
  return sameTemplate(recorded, current) ? current : Object.freeze(recorded);
}

/** Restarts a registered instance on `template` and resolves once it is healthy (see Supervisor.restartOn). */
export async function restartOnTemplate(instance: Instance, template: ServiceConfig, store: InstanceStore): Promise<void> {
  if (instance.isRetired) throw instance.retiredError();
  store.setDesired(instance.service, instance.id, 'running');
  // Set before the stop: a request that wakes it meanwhile starts it on this template too.
  instance.nextTemplate = template;
  await instance.stop('stopped');
  instance.resetRestartWindow();
  await instance.start('start');
}

/** Keys read by tenement alone, never by the process: changing them leaves instances up to date. */
const SERVER_SIDE_KEYS: ReadonlySet<string> = new Set(['rollout']);

/** Same `[service.X]` table for a process: swapping one for the other changes nothing it runs with. */
export function sameTemplate(a: ServiceConfig, b: ServiceConfig): boolean {
  return processKeys(changedServiceKeys(a, b)).length === 0;
}

/** Of changed keys, those that change what a process runs with. */
export function processKeys(keys: readonly string[]): string[] {
  return keys.filter((key) => !SERVER_SIDE_KEYS.has(key));
}

/** The `[service.X]` keys whose values differ, in file order. */
export function changedServiceKeys(a: ServiceConfig, b: ServiceConfig): string[] {
  const keys = new Set([...Object.keys(a.asWritten), ...Object.keys(b.asWritten)]);
  const written = (s: ServiceConfig, key: string): unknown => (s.asWritten as Record<string, unknown>)[key];
  const changed = [...keys].filter((key) => stableJson(written(a, key)) !== stableJson(written(b, key)));
  // A relative workdir reads the same but resolves elsewhere when the file moved.
  if (a.workdir !== b.workdir && !changed.includes('workdir')) changed.push('workdir');
  return changed;
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}
