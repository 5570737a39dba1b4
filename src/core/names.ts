/**
 * The one naming rule (docs/configuration.md#names): a service name and an instance id are each one DNS label.
 * Every entry point (config, CLI, API, Host header) validates through here.
 * @module
 */
import { TenementError } from './errors.js';

export const NAME_PATTERN = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/;

export interface InstanceName {
  readonly service: string;
  readonly id: string;
}

export function isValidName(value: string): boolean {
  return NAME_PATTERN.test(value);
}

/**
 * `tenement.{domain}` is the dashboard's own host, which never carries tenant content (so the
 * admin token the dashboard keeps is out of every tenant page's reach): no service may take it.
 */
export const DASHBOARD_LABEL = 'tenement';

/** The name rule in words, for error messages. */
export const NAME_RULE = 'lower-case letters, digits, "-" and "_", 1-63 chars, starting and ending with a letter or digit';

/** Throws `invalid_name` naming the bad value and the rule. */
export function assertName(kind: 'service' | 'id' | 'name', value: string): string {
  if (!isValidName(value)) {
    throw new TenementError('invalid_name', `invalid ${kind} ${JSON.stringify(truncate(value))}: use ${NAME_RULE}`);
  }
  return value;
}

/** Parses `service:id`; throws `invalid_name` for anything else. */
export function parseInstanceName(value: string): InstanceName {
  const colon = value.indexOf(':');
  if (colon < 0) {
    throw new TenementError('invalid_name', `invalid instance name ${JSON.stringify(truncate(value))}: expected SERVICE:ID, e.g. notes:alice`);
  }
  const service = value.slice(0, colon);
  const id = value.slice(colon + 1);
  assertName('service', service);
  assertName('id', id);
  return { service, id };
}

export function formatInstanceName(service: string, id: string): string {
  return `${service}:${id}`;
}

/** How an instance is reached through the proxy: `http://{id}.{service}.{domain}[:{port}]/` (or https). */
export function formatInstanceUrl(name: InstanceName, domain: string, port: number, scheme: 'http' | 'https' = 'http'): string {
  const isDefaultPort = port === (scheme === 'https' ? 443 : 80);
  return `${scheme}://${name.id}.${name.service}.${domain}${isDefaultPort ? '' : `:${port}`}/`;
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
