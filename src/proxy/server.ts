/**
 * The front listener: every request on the one port is routed by Host (SPEC §3) to an instance
 * (forwarded), to tenement's own management handler (bare domain), or answered 404/503 here.
 * Connections start on the raw fast path (raw-front.ts: strict parser, answers written straight
 * to the socket); anything else (management, upgrades, Expect, HTTP/1.0) is handed on a request
 * boundary to the node:http server, whose limits bound slow clients there.
 * @module
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TenementError } from '../core/errors.js';
import type { RequestStats } from '../observability/request-stats.js';
import type { SupervisorApi } from '../supervisor/types.js';
import { NodeForwardJob } from './forward.js';
import type { ForwardContext, ProxyLogger } from './forward.js';
import { findHost, upstreamRequestHeaders } from './headers.js';
import type { RawConnection } from './raw-connection.js';
import { RawForwardJob } from './raw-forward.js';
import { RawFront } from './raw-front.js';
import type { RequestHead } from './request-head.js';
import type { ForwardedFor, RequestFacts } from './headers.js';
import { HostResolver } from './host.js';
import type { RouteTarget } from './host.js';
import { proxyErrorHead, sendProxyError } from './responses.js';
import { AutoSpawnLimiter } from './auto-spawn-limit.js';
import { RouteTable } from './route-table.js';
import type { InstanceRoute } from './route-table.js';
import { tunnelUpgrade } from './upgrade.js';

export interface FrontServerOptions {
  readonly supervisor: SupervisorApi;
  /** Base domain (SPEC §3, `--domain`). */
  readonly domain: string;
  readonly stats: RequestStats;
  /** Dashboard, /api/*, /health, /metrics on the bare domain. */
  readonly management: (req: IncomingMessage, res: ServerResponse) => void;
  readonly logger: ProxyLogger;
  /** Overrides of the server limits (tests use short ones). */
  readonly limits?: Partial<ServerLimits>;
  /**
   * Headers added to every answer on an encrypted connection, flat [name, value, ...]
   * (HSTS when tenement terminates TLS: TLS sockets are emitted to this server as 'connection').
   */
  readonly secureHeaders?: readonly string[];
}

export interface ServerLimits {
  /** ms a client may take to send the request head. */
  readonly headersTimeout: number;
  /** ms a client may take to send the whole request (head and body). */
  readonly requestTimeout: number;
  /** ms an idle keep-alive client connection stays open. */
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
}

/** The node:http server, plus the live route table (open connections per instance). */
export type FrontServer = Server & { readonly routes: RouteTable };

/** Server limits: a slow-loris client is dropped, never holds the server. */
export const SERVER_LIMITS: ServerLimits = {
  headersTimeout: 10_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 16 * 1024,
};

function isManagementPath(url: string): boolean {
  return matchesPrefix(url, '/api') || matchesPrefix(url, '/health') || matchesPrefix(url, '/metrics');
}

/** `/app` matches `/app`, `/app/...` and `/app?...`; a prefix ending in `/` matches what starts with it. */
function matchesPrefix(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false;
  if (url.length === prefix.length || prefix.endsWith('/')) return true;
  const next = url[prefix.length];
  return next === '/' || next === '?';
}

const MANAGEMENT = Symbol('management');
type Resolution = InstanceRoute | 404 | 429 | 503 | typeof MANAGEMENT | Promise<InstanceRoute | 404 | 503>;

/** Reused by the synchronous header rewrite of each raw-path request. */
const rawFacts: RequestFacts = { hasBody: false, bodyLength: 0 };

function isEncrypted(socket: object): boolean {
  return 'encrypted' in socket && socket.encrypted === true;
}

function isLoopback(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export function createFrontServer(options: FrontServerOptions): FrontServer {
  const { supervisor, stats, management, logger } = options;
  const domain = options.domain.toLowerCase();
  const routing = supervisor.config.routing;
  const hosts = new HostResolver(domain, routing.subdomain);
  const table = new RouteTable(supervisor, stats);
  const ctx: ForwardContext = { supervisor, logger };
  const pathOverrides = Object.entries(routing.path).sort((a, b) => b[0].length - a[0].length);
  const spawnBudget = new AutoSpawnLimiter(supervisor.config.settings.autoSpawnPerMinute);

  // The dashboard keeps the admin token in its origin's storage: when [routing] puts tenant pages on
  // the bare domain, the dashboard is served only on tenement.{domain} (docs in the README).
  const bareHasTenants = routing.default !== undefined || pathOverrides.length > 0;

  /** The service a bare-domain path goes to, MANAGEMENT for tenement's own handler, or 404. */
  function bareService(url: string): string | typeof MANAGEMENT | 404 {
    if (isManagementPath(url)) return MANAGEMENT;
    for (const [prefix, service] of pathOverrides) if (matchesPrefix(url, prefix)) return service;
    return routing.default ?? (bareHasTenants ? 404 : MANAGEMENT);
  }

  function autoSpawn(service: string, id: string): Promise<InstanceRoute | 404 | 503> {
    return supervisor.autoSpawn(service, id).then(
      () => table.instance(service, id) ?? 503,
      (err: unknown) => {
        if (err instanceof TenementError && (err.code === 'invalid_name' || err.code === 'service_not_found')) return 404;
        if (!(err instanceof TenementError && err.code === 'max_instances')) logger.warn({ err, instance: `${service}:${id}` }, 'auto-spawn failed');
        return 503;
      },
    );
  }

  /** Route by Host (and path on the bare domain); MANAGEMENT: tenement's own handler. */
  function resolve(target: RouteTarget, url: string, client: Pick<Socket, 'remoteAddress'>): Resolution {
    let service: string;
    switch (target.kind) {
      case 'none':
        return 404;
      case 'dashboard':
        return MANAGEMENT;
      case 'bare': {
        const mapped = bareService(url);
        if (typeof mapped !== 'string') return mapped;
        service = mapped;
        break;
      }
      case 'service':
        service = target.service;
        break;
      case 'instance': {
        const route = table.instance(target.service, target.id);
        if (route !== undefined) return route;
        if (table.service(target.service)?.config.autoSpawn !== true) return 404;
        if (!spawnBudget.take(client.remoteAddress ?? '')) return 429;
        return autoSpawn(target.service, target.id);
      }
    }
    const routes = table.service(service);
    if (routes === undefined) return 404;
    return routes.pick() ?? 503;
  }

  function forwardedFor(req: IncomingMessage, host: string | undefined, isUpgrade: boolean): ForwardedFor {
    const address = req.socket.remoteAddress ?? '';
    return {
      clientAddress: address,
      host,
      proto: isEncrypted(req.socket) ? 'https' : 'http',
      trustForwardedProto: isLoopback(address),
      isUpgrade,
    };
  }

  function forward(route: InstanceRoute, isPicked: boolean, req: IncomingMessage, res: ServerResponse, host: string | undefined): void {
    const facts: RequestFacts = { hasBody: false, bodyLength: 0 };
    const headers = upstreamRequestHeaders(req.rawHeaders, forwardedFor(req, host, false), facts);
    const service = isPicked ? table.service(route.handle.service) ?? null : null;
    new NodeForwardJob(ctx, route, service, req, res, headers, facts.hasBody, facts.bodyLength).start();
  }

  const secureHeaders = options.secureHeaders ?? [];

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (secureHeaders.length > 0 && isEncrypted(req.socket)) {
      for (let i = 0; i < secureHeaders.length; i += 2) res.setHeader(secureHeaders[i]!, secureHeaders[i + 1]!);
    }
    const url = req.url ?? '';
    const host = findHost(req.rawHeaders);
    const target = hosts.resolve(host);
    const resolution = resolve(target, url, req.socket);
    if (resolution === MANAGEMENT) {
      management(req, res);
      return;
    }
    if (url.charCodeAt(0) !== 47 /* '/' */) {
      sendProxyError(res, 400);
      return;
    }
    const isPicked = target.kind !== 'instance';
    if (typeof resolution === 'number') sendProxyError(res, resolution);
    else if (resolution instanceof Promise) {
      void resolution.then((r) => {
        if (typeof r === 'number') sendProxyError(res, r);
        else forward(r, isPicked, req, res, host);
      });
    } else forward(resolution, isPicked, req, res, host);
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '';
    const host = findHost(req.rawHeaders);
    const resolution = resolve(hosts.resolve(host), url, req.socket);
    if (resolution === MANAGEMENT) {
      socket.end(proxyErrorHead(404));
      return;
    }
    const tunnel = (route: InstanceRoute): void => {
      const facts: RequestFacts = { hasBody: false, bodyLength: 0 };
      tunnelUpgrade(ctx, route, req, socket, head, upstreamRequestHeaders(req.rawHeaders, forwardedFor(req, host, true), facts));
    };
    if (typeof resolution === 'number') socket.end(proxyErrorHead(resolution));
    else if (resolution instanceof Promise) {
      void resolution.then((r) => {
        if (typeof r === 'number') socket.end(proxyErrorHead(r));
        else tunnel(r);
      });
    } else tunnel(resolution);
  }

  function forwardRaw(conn: RawConnection, route: InstanceRoute, isPicked: boolean, head: RequestHead, body: RawConnection['requestBody']): void {
    const address = conn.socket.remoteAddress ?? '';
    const fwd: ForwardedFor = { clientAddress: address, host: head.host, proto: conn.isEncrypted ? 'https' : 'http', trustForwardedProto: isLoopback(address), isUpgrade: false };
    const headers = upstreamRequestHeaders(head.rawHeaders, fwd, rawFacts);
    const service = isPicked ? table.service(route.handle.service) ?? null : null;
    const job = new RawForwardJob(ctx, route, service, { method: head.method, url: head.target, headers, body, bodyLength: rawFacts.bodyLength }, conn);
    if (conn.attach(job)) job.start();
  }

  /** The raw path's router: false leaves the request to the node:http server. */
  function dispatchRaw(conn: RawConnection, head: RequestHead): boolean {
    const url = head.target;
    if (url.charCodeAt(0) !== 47 /* '/' */) return false;
    const target = hosts.resolve(head.host);
    const resolution = resolve(target, url, conn.socket);
    if (resolution === MANAGEMENT) return false;
    if (typeof resolution === 'number') {
      conn.respondError(resolution);
      return true;
    }
    const isPicked = target.kind !== 'instance';
    // Taken now: a short body may be fully read before an auto-spawn resolves.
    const body = conn.requestBody;
    if (resolution instanceof Promise) {
      void resolution.then((r) => {
        if (typeof r === 'number') conn.respondError(r);
        else forwardRaw(conn, r, isPicked, head, body);
      });
    } else forwardRaw(conn, resolution, isPicked, head, body);
    return true;
  }

  const limits = { ...SERVER_LIMITS, ...options.limits };
  const server = createServer({
    ...limits,
    // How often expired head/request timers are checked: bounds how long a slow client lingers.
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeout),
    noDelay: true,
  }, onRequest) as FrontServer;
  server.on('upgrade', onUpgrade);
  attachRawFront(server, new RawFront(limits, dispatchRaw, takeConnectionListener(server), secureHeaders));
  server.on('close', () => table.close());
  Object.defineProperty(server, 'routes', { value: table, enumerable: false });
  return server;
}

/** Node's own connection listener, removed from the server so the raw path sees sockets first. */
function takeConnectionListener(server: Server): (socket: Socket) => void {
  const listener = server.listeners('connection')[0] as (this: Server, socket: Socket) => void;
  server.removeListener('connection', listener);
  return (socket) => listener.call(server, socket);
}

/** New sockets go to the raw path; closing the server reaches its connections too. */
function attachRawFront(server: Server, raw: RawFront): void {
  server.on('connection', (socket: Socket) => raw.accept(socket));
  const close = server.close;
  const closeIdle = server.closeIdleConnections;
  const closeAll = server.closeAllConnections;
  server.close = function (this: Server, callback?: (err?: Error) => void): Server {
    raw.stop();
    return close.call(this, callback);
  };
  server.closeIdleConnections = function (this: Server): void {
    raw.closeIdle();
    closeIdle.call(this);
  };
  server.closeAllConnections = function (this: Server): void {
    raw.closeAll();
    closeAll.call(this);
  };
  server.on('close', () => raw.dispose());
}
