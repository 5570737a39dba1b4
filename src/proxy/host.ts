/**
 * Host header → route target (docs/lifecycle.md#routing): the instance, the service, the bare
 * domain, the dashboard's own host `tenement.{domain}`, or nothing.
 * Pure; HostResolver adds a bounded cache so a repeated Host costs one Map lookup.
 * @module
 */
import { DASHBOARD_LABEL, isValidName } from '../core/names.js';

export type RouteTarget =
  | { readonly kind: 'instance'; readonly service: string; readonly id: string }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'bare' }
  | { readonly kind: 'dashboard' }
  | { readonly kind: 'none' };

const BARE: RouteTarget = { kind: 'bare' };
const DASHBOARD: RouteTarget = { kind: 'dashboard' };
const NONE: RouteTarget = { kind: 'none' };
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Lower-cases the Host, drops its port and a trailing dot; IPv6 literals keep their brackets. */
export function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    return close < 0 ? h : h.slice(0, close + 1);
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function isIpLiteral(host: string): boolean {
  return host.startsWith('[') || IPV4.test(host);
}

/**
 * Resolves a raw Host header. `subdomains` maps `[routing.subdomain]` labels to services; such a
 * label wins over a service of the same name.
 */
export function parseHost(rawHost: string | undefined, domain: string, subdomains: Readonly<Record<string, string>>): RouteTarget {
  if (rawHost === undefined || rawHost === '') return NONE;
  const host = normalizeHost(rawHost);
  if (host === domain || host === 'localhost' || isIpLiteral(host)) return BARE;
  if (host.length <= domain.length + 1 || !host.endsWith(domain) || host[host.length - domain.length - 1] !== '.') return NONE;
  const prefix = host.slice(0, host.length - domain.length - 1);
  if (prefix === DASHBOARD_LABEL) return DASHBOARD;
  const dot = prefix.indexOf('.');
  if (dot < 0) {
    const mapped = Object.hasOwn(subdomains, prefix) ? subdomains[prefix] : undefined;
    if (mapped !== undefined) return { kind: 'service', service: mapped };
    return isValidName(prefix) ? { kind: 'service', service: prefix } : NONE;
  }
  const id = prefix.slice(0, dot);
  const service = prefix.slice(dot + 1);
  if (!isValidName(id) || !isValidName(service)) return NONE;
  return { kind: 'instance', service, id };
}

/** Caches parseHost results per raw Host string; the cache is cleared when it grows past its bound. */
export class HostResolver {
  private readonly cache = new Map<string, RouteTarget>();

  constructor(
    private readonly domain: string,
    private readonly subdomains: Readonly<Record<string, string>>,
    private readonly maxEntries = 4096,
  ) {}

  resolve(rawHost: string | undefined): RouteTarget {
    if (rawHost === undefined) return NONE;
    let target = this.cache.get(rawHost);
    if (target === undefined) {
      target = parseHost(rawHost, this.domain, this.subdomains);
      // Unbounded growth would let a client fill memory with invented hosts.
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      this.cache.set(rawHost, target);
    }
    return target;
  }
}
