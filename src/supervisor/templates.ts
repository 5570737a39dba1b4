/**
 * Service templates compared: which `[service.X]` keys a reload changed, and which template an
 * adopted process runs (see docs in README, "Changes without downtime").
 * @module
 */
import type { ServiceConfig } from '../config/types.js';
import type { InstanceRow } from '../store/instances.js';

/**
 * The template an adopted process was started from: the config's own object when it is the same
 * (so it is not outdated), the recorded one when a reload changed it before the restart.
 */
export function recordedTemplate(row: InstanceRow, current: ServiceConfig): ServiceConfig {
  if (row.template === null) return current;
  const recorded = JSON.parse(row.template) as ServiceConfig;
  return sameTemplate(recorded, current) ? current : Object.freeze(recorded);
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
