/**
 * Parsers for command-line values shared by several commands: weights, instance names in both
 * spellings (`SERVICE:ID` or `SERVICE --id ID`), seconds and ports. Bad values are input errors (exit 2).
 * @module
 */
import { TenementError } from '../core/errors.js';
import { assertName, parseInstanceName, type InstanceName } from '../core/names.js';

export function parseWeight(value: string): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) > 100) {
    throw new TenementError('invalid_weight', `invalid weight ${JSON.stringify(value)}: use a whole number from 0 to 100`);
  }
  return Number(value);
}

/**
 * `SERVICE:ID`, or `SERVICE` with the id from an option (`--id` for spawn, `--version` for deploy).
 * Giving both, or neither, is a usage error.
 */
export function parseTarget(positional: string, optionValue: string | undefined, optionName: string): InstanceName {
  if (positional.includes(':')) {
    if (optionValue !== undefined) {
      throw new TenementError('usage', `give either SERVICE:${optionName.toUpperCase()} or SERVICE --${optionName} ${optionName.toUpperCase()}, not both`);
    }
    return parseInstanceName(positional);
  }
  if (optionValue === undefined) {
    throw new TenementError('usage', `missing ${optionName}: use SERVICE:${optionName.toUpperCase()} or SERVICE --${optionName} ${optionName.toUpperCase()}`);
  }
  return { service: assertName('service', positional), id: assertName(optionName === 'version' ? 'name' : 'id', optionValue) };
}

export function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new TenementError('usage', `invalid number of seconds ${JSON.stringify(value)}: use a positive number, e.g. 30`);
  }
  return n;
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535) {
    throw new TenementError('usage', `invalid port ${JSON.stringify(value)}: use a number from 0 to 65535`);
  }
  return n;
}

/** `--interval`: `30s`, `2m`, `1h`, or plain seconds; returns seconds. */
export function parseInterval(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value.trim());
  if (m === null || Number(m[1]) <= 0) {
    throw new TenementError('usage', `invalid interval ${JSON.stringify(value)}: use seconds, minutes or hours, e.g. 30s, 2m, 1h`);
  }
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

/** `--cohorts 1,10,50,100`: whole numbers (the server checks that they rise to 100). */
export function parseCohorts(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d{1,3}$/.test(p))) {
    throw new TenementError('usage', `invalid cohorts ${JSON.stringify(value)}: use percentages separated by commas, e.g. 1,10,50,100`);
  }
  return parts.map(Number);
}

/** `--canary 10,50,100`: increasing whole percentages from 1 to 100. */
export function parseCanarySteps(value: string): number[] {
  const steps = value.split(',').map((p) => p.trim());
  const ok = steps.every((p) => /^\d{1,3}$/.test(p)) && steps.map(Number).every((p, i, all) => p >= 1 && p <= 100 && (i === 0 || p > all[i - 1]!));
  if (!ok) throw new TenementError('usage', `invalid canary steps ${JSON.stringify(value)}: use increasing percentages from 1 to 100, e.g. 10,50,100`);
  return steps.map(Number);
}
