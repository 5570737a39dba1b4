/**
 * The management API's route contract and a tiny matcher over node:http: routes are declared as
 * `ApiRoute` objects (method, path with `:params`, auth level, handler) and matched segment by segment.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * `none`: anyone. `admin`: an admin token. `read`: an admin token or a tenant token; a handler
 * that touches one instance must call `ctx.assertCanRead(service, id)`.
 */
export type AuthLevel = 'none' | 'admin' | 'read';

/** The bearer token a request was authenticated with; `tenant` is null for admin tokens. */
export interface AuthToken {
  readonly id: string;
  readonly tenant: string | null;
}

export interface RequestContext {
  readonly req: IncomingMessage;
  /** Write to it directly only for streams (SSE); then return nothing from the handler. */
  readonly res: ServerResponse;
  /** Path parameters, already percent-decoded (`/api/instances/:name` → `{ name: 'notes:alice' }`). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Null only on `auth: 'none'` routes. */
  readonly token: AuthToken | null;
  /** Reads the JSON body (≤ 1 MiB) and validates it; failures become `bad_request` (400). */
  body<S extends z.ZodType>(schema: S): Promise<z.output<S>>;
  /** Throws `forbidden` (403) unless the token is admin or a tenant token for `id`. */
  assertCanRead(service: string, id: string): void;
  /** Names what a mutation acted on, for the audit table (e.g. `notes:alice`). */
  setAuditTarget(target: string): void;
}

export interface ApiResult {
  /** Default 200. */
  status?: number;
  /** A string is sent as-is (`contentType`, default text/plain); anything else as JSON; undefined = no body. */
  body?: unknown;
  contentType?: string;
  headers?: Readonly<Record<string, string>>;
}

export interface ApiRoute {
  readonly method: HttpMethod;
  /** Literal segments and `:param` segments, e.g. `/api/instances/:name/weight`. */
  readonly path: string;
  readonly auth: AuthLevel;
  /** Audit action for mutations, e.g. `instance.spawn`; defaults to `METHOD path`. GET routes are not audited. */
  readonly action?: string;
  handler(ctx: RequestContext): Promise<ApiResult | void>;
}

export interface RouteMatch {
  readonly route: ApiRoute;
  readonly params: Record<string, string>;
}

interface CompiledRoute {
  readonly route: ApiRoute;
  /** Literal segment, or null for a parameter (whose name is in `names` at the same index). */
  readonly segments: readonly (string | null)[];
  readonly names: readonly (string | null)[];
}

export class Router {
  private readonly compiled: CompiledRoute[] = [];

  constructor(routes: readonly ApiRoute[] = []) {
    for (const r of routes) this.add(r);
  }

  add(route: ApiRoute): void {
    const parts = splitPath(route.path);
    this.compiled.push({
      route,
      segments: parts.map((p) => (p.startsWith(':') ? null : p)),
      names: parts.map((p) => (p.startsWith(':') ? p.slice(1) : null)),
    });
  }

  /**
   * The route for `method` and `pathname`, `'method_not_allowed'` when only other methods match,
   * or undefined. A parameter that is not valid percent-encoding makes the path not match.
   */
  match(method: string, pathname: string): RouteMatch | 'method_not_allowed' | undefined {
    const parts = splitPath(pathname);
    let pathMatched = false;
    for (const c of this.compiled) {
      if (c.segments.length !== parts.length) continue;
      const params = matchSegments(c, parts);
      if (params === undefined) continue;
      if (c.route.method === method || (method === 'HEAD' && c.route.method === 'GET')) return { route: c.route, params };
      pathMatched = true;
    }
    return pathMatched ? 'method_not_allowed' : undefined;
  }
}

function matchSegments(c: CompiledRoute, parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const literal = c.segments[i];
    const part = parts[i]!;
    if (literal !== null) {
      if (literal !== part) return undefined;
      continue;
    }
    try {
      params[c.names[i]!] = decodeURIComponent(part);
    } catch {
      return undefined;
    }
  }
  return params;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}
