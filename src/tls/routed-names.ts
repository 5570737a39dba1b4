/**
 * Which TLS server names may get a certificate: exactly the names the routing table would send
 * somewhere (README: Production). The bare domain, the dashboard's host, a service (or a
 * `[routing.subdomain]` label), and a registered instance; never `localhost`, an IP literal, an
 * unknown service or an unregistered id, so a stranger's SNI cannot spend the CA's rate limit.
 * @module
 */
import { parseHost } from '../proxy/host.js';
import type { RouteTable } from '../proxy/route-table.js';

export type NameRoutes = (name: string) => boolean;

/** Longest DNS name (RFC 1035); longer SNI values are refused before any lookup. */
const MAX_NAME_LENGTH = 253;

export function routedNames(domain: string, subdomains: Readonly<Record<string, string>>, table: Pick<RouteTable, 'service' | 'instance'>): NameRoutes {
  return (rawName) => {
    if (rawName.length === 0 || rawName.length > MAX_NAME_LENGTH || rawName.includes(':')) return false;
    const name = rawName.toLowerCase();
    const target = parseHost(name, domain, subdomains);
    switch (target.kind) {
      case 'bare':
        return name === domain;
      case 'dashboard':
        return true;
      case 'service':
        return table.service(target.service) !== undefined;
      case 'instance':
        return table.instance(target.service, target.id) !== undefined;
      case 'none':
        return false;
    }
  };
}
