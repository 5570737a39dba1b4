/**
 * The paths on the bare domain that are always tenement's own (docs: README "Routing"): `/api`
 * and below, `/health`, `/metrics`. The proxy routes by this list and the API serves by it, so a
 * path is never a tenant's on one side and tenement's on the other.
 * @module
 */

const MANAGEMENT_PREFIXES = ['/api', '/health', '/metrics'] as const;

/** `target` is a request target or a pathname (a query is allowed). */
export function isManagementPath(target: string): boolean {
  for (const prefix of MANAGEMENT_PREFIXES) if (matchesPathPrefix(target, prefix)) return true;
  return false;
}

/** `/app` matches `/app`, `/app/...` and `/app?...`; a prefix ending in `/` matches what starts with it. */
export function matchesPathPrefix(target: string, prefix: string): boolean {
  if (!target.startsWith(prefix)) return false;
  if (target.length === prefix.length || prefix.endsWith('/')) return true;
  const next = target.charCodeAt(prefix.length);
  return next === 47 /* / */ || next === 63 /* ? */;
}
