/**
 * The front server: every request on the one port is parsed by the one HTTP/1.1 implementation
 * (raw-connection.ts) and routed by Host (docs/lifecycle.md#routing) to an instance (forwarded), to
 * tenement's own management handler (bare domain), or answered 400/404/503 here. node:http parses
 * nothing: a management request gets an IncomingMessage/ServerResponse pair built from the head
 * the front parsed (management-exchange.ts).
 * @module
 */
import { spawn } from 'node:child_process';
import { BlockList, connect as connectNet, createServer, isIP, isIPv4 } from 'node:net';
import type { Server, Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { RoutingConfig } from '../config/types.js';
import { matchesPathPrefix, isManagementPath } from '../core/management-paths.js';
import { TenementError } from '../core/errors.js';
import type { RequestStats } from '../core/request-stats.js';
import type { SupervisorApi } from '../supervisor/types.js';
import { ForwardJob } from './forward.js';
import type { ForwardContext, ProxyLogger } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import { HostResolver } from './host.js';
import type { RouteTarget } from './host.js';
import { serveManagement } from './management-exchange.js';
import type { ManagementHandler } from './management-exchange.js';
import type { RawConnection } from './raw-connection.js';
import { AutoSpawnLimiter } from './auto-spawn-limit.js';
import { RawFront } from './raw-front.js';
import type { DrainLimits } from './raw-front.js';
import type { RequestHead } from './request-head.js';
import { InstanceRoute as InstanceRouteClass, RouteTable } from './route-table.js';
import type { InstanceRoute } from './route-table.js';

export interface FrontServerOptions {
  readonly supervisor: SupervisorApi;
  /** Base domain (`--domain`, docs/lifecycle.md#routing). */
  readonly domain: string;
  readonly stats: RequestStats;
  /** Dashboard, /api/*, /health, /metrics on the bare domain. */
  readonly management: ManagementHandler;
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
  /** ms a client may take to send the whole request (head and body); also how long a management answer may go unread. */
  readonly requestTimeout: number;
  /** ms an idle keep-alive client connection stays open. */
  readonly keepAliveTimeout: number;
}

/** Where the server in charge after this one listens (its plain and its TLS port). */
export interface Successor {
  readonly host: string;
  readonly port: number;
  /** The HTTPS port, for requests that came encrypted; undefined without TLS. */
  readonly tlsPort?: number;
  /** It serves already (a take-over), rather than starting once this one exited (SIGTERM). */
  readonly isRunning: boolean;
}

/** The listening server, its live route table (open connections per instance) and connection controls. */
export type FrontServer = Server & {
  readonly routes: RouteTable;
  /**
   * Stops accepting and lets every connection go without a reset (raw-front.ts `drain`). From now
   * on this server runs nothing: a request it cannot forward to a running instance as it is (a wake,
   * an auto-spawn, the API) is handed on to `successor`. Resolves when no connection is left.
   */
  drain(limits: DrainLimits, successor: Successor): Promise<void>;
  /** Ends keep-alive connections with no exchange in progress. */
  closeIdleConnections(): void;
  closeAllConnections(): void;
};

/** Server limits: a slow-loris client is dropped, never holds the server. */
export const SERVER_LIMITS: ServerLimits = {
  headersTimeout: 10_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
};

/** The relay beside this module (compiled .js, or .ts under tsx). */
const HAND_OFF_RELAY = fileURLToPath(new URL(`./hand-off-relay${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/** At most one "invalid response" event per instance per this many ms reaches its log. */
const BAD_RESPONSE_EVENT_MS = 1000;

type Resolution = InstanceRoute | 404 | 429 | 503 | 'management' | Promise<InstanceRoute | 404 | 503>;

function sortedPathOverrides(routing: RoutingConfig): Array<[string, string]> {
  return Object.entries(routing.path).sort((a, b) => b[0].length - a[0].length);
}

/** `[settings] trusted_proxies` as a lookup; IPv4-mapped IPv6 peers are checked as IPv4. */
function trustedProxies(cidrs: readonly string[]): (address: string) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/') as [string, string | undefined];
    const type = isIPv4(net) ? 'ipv4' : 'ipv6';
    list.addSubnet(net, bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits), type);
  }
  return (address) => {
    const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    return list.check(v4, isIPv4(v4) ? 'ipv4' : 'ipv6');
  };
}

export function createFrontServer(options: FrontServerOptions): FrontServer {
  const { supervisor, stats, management, logger } = options;
  const domain = options.domain.toLowerCase();
  const { settings } = supervisor.config;
  let routing = supervisor.config.routing;
  let hosts = new HostResolver(domain, routing.subdomain);
  const reportError = (err: unknown): void => logger.error({ err }, 'proxy error; the connection was closed');
  const table = new RouteTable(supervisor, stats, reportError);
  const lastBadResponse = new Map<string, number>();
  const ctx: ForwardContext = {
    supervisor, logger,
    reportBadResponse(route, reason) {
      const { name, service, id } = route.handle;
      const now = Date.now();
      if (now - (lastBadResponse.get(name) ?? 0) < BAD_RESPONSE_EVENT_MS) return;
      lastBadResponse.set(name, now);
      supervisor.events.emit('lifecycle', { instance: name, service, id, kind: 'bad_response', at: now,
        message: `answered with an invalid HTTP response (${reason}); the client got 502` });
    },
  };
  const isTrusted = trustedProxies(settings.trustedProxies);
  let pathOverrides = sortedPathOverrides(routing);
  const limits = { ...SERVER_LIMITS, ...options.limits, maxConnections: settings.maxConnections };

  const spawnBudget = new AutoSpawnLimiter(settings.autoSpawnPerMinute);
  // The dashboard keeps the admin token in its origin's storage: when [routing] puts tenant pages on
  // the bare domain, the dashboard is served only on tenement.{domain} (docs in the README).
  let bareHasTenants = routing.default !== undefined || pathOverrides.length > 0;
  // `ten reload`: new routing takes effect for the next request.
  const onConfig = (): void => {
    routing = supervisor.config.routing;
    hosts = new HostResolver(domain, routing.subdomain);
    pathOverrides = sortedPathOverrides(routing);
    bareHasTenants = routing.default !== undefined || pathOverrides.length > 0;
  };
  supervisor.events.on('config', onConfig);

  /** The service a bare-domain path goes to, 'management' for tenement's own handler, or 404. */
  function bareService(url: string): string | 'management' | 404 {
    if (isManagementPath(url)) return 'management';
    for (const [prefix, service] of pathOverrides) if (matchesPathPrefix(url, prefix)) return service;
    return routing.default ?? (bareHasTenants ? 404 : 'management');
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

  /** Route by Host (and path on the bare domain); `address`: the client's, for the auto_spawn budget. */
  function resolve(target: RouteTarget, url: string, address: string): Resolution {
    let service: string;
    switch (target.kind) {
      case 'none':
        return 404;
      case 'dashboard':
        return 'management';
      case 'bare': {
        const mapped = bareService(url);
        if (mapped === 'management' || mapped === 404) return mapped;
        service = mapped;
        break;
      }
      case 'service':
        service = target.service;
        break;
      case 'instance': {
        const route = table.instance(target.service, target.id);
        if (route !== undefined) return route;
        if (successor !== undefined) return 404;
        if (table.service(target.service)?.config.autoSpawn !== true) return 404;
        if (!spawnBudget.take(address)) return 429;
        return autoSpawn(target.service, target.id);
      }
    }
    const routes = table.service(service);
    if (routes === undefined) return 404;
    return routes.pick() ?? 503;
  }

  function forward(conn: RawConnection, route: InstanceRoute, isPicked: boolean, head: RequestHead, body: RawConnection['requestBody']): void {
    const address = conn.socket.remoteAddress ?? '';
    const headers = upstreamRequestHeaders(head.rawHeaders, head.connectionListed, {
      clientAddress: address, host: head.host, proto: conn.isEncrypted ? 'https' : 'http', isTrustedProxy: isTrusted(address), upgrade: head.upgrade,
    });
    const service = isPicked ? table.service(route.handle.service) ?? null : null;
    const request = {
      method: head.method, url: head.target, headers, body,
      bodyLength: body === null ? 0 : head.isChunked ? -1 : head.contentLength,
      isUpgrade: head.upgrade !== undefined,
    };
    conn.writeTimeout = route.handle.serviceConfig.requestTimeoutMs;
    const job = new ForwardJob(ctx, route, service, request, conn);
    if (conn.attach(job)) job.start();
  }

  /** Set once draining: the server in charge next. */
  let successor: Successor | undefined;
  const relay = (socket: Socket, bytes: Buffer): void => {
    const to = successor!;
    const child = spawn(process.execPath, [...process.execArgv, HAND_OFF_RELAY], {
      stdio: ['pipe', 'ignore', 'inherit', socket], detached: true,
      env: { ...process.env, TENEMENT_HAND_OFF: `${to.host.includes(':') ? `[${to.host}]` : to.host}:${to.port}` },
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(bytes);
    child.unref();
  };
  const connectTlsSuccessor = (host: string | undefined): Socket => {
    const to = successor!;
    // The next server has the same certificates (same data dir); the name was checked here already.
    const name = host?.replace(/:\d+$/, '');
    return connectTls({
      host: to.host, port: to.tlsPort ?? 0, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'],
      ...(name === undefined || isIP(name) !== 0 || name.startsWith('[') ? {} : { servername: name }),
    }) as Socket;
  };

  function dispatch(conn: RawConnection, head: RequestHead): void {
    const url = head.target;
    const target = hosts.resolve(head.host);
    const resolution = resolve(target, url, conn.socket.remoteAddress ?? '');
    if (successor !== undefined && !(resolution instanceof InstanceRouteClass && resolution.isReachable)) {
      // A running next server (a take-over) is reached from here for one exchange; an upgrade (which
      // may outlive this server) or a next server not yet running (after SIGTERM) goes through a
      // relay process, which lives on after this one exits. Under TLS only the first can be done.
      if (!conn.isEncrypted && successor.isRunning && head.upgrade === undefined) conn.handOff(head, { connect: () => connectNet({ host: successor!.host, port: successor!.port, noDelay: true }) });
      else if (!conn.isEncrypted) conn.handOff(head, { relay });
      else if (successor.isRunning && successor.tlsPort !== undefined) conn.handOff(head, { connect: () => connectTlsSuccessor(head.host) });
      else conn.respondError(503);
      return;
    }
    if (resolution === 'management') {
      conn.writeTimeout = limits.requestTimeout;
      serveManagement(conn, head, management);
      return;
    }
    if (typeof resolution === 'number') {
      conn.respondError(resolution);
      return;
    }
    const isPicked = target.kind !== 'instance';
    // Taken now: a short body may be fully read before an auto-spawn resolves.
    const body = conn.requestBody;
    if (resolution instanceof Promise) {
      resolution.then((r) => {
        if (typeof r === 'number') conn.respondError(r);
        else forward(conn, r, isPicked, head, body);
      }).catch((err: unknown) => conn.fault(err));
    } else forward(conn, resolution, isPicked, head, body);
  }

  const front = new RawFront(limits, dispatch, reportError, options.secureHeaders);
  const server = createServer({ noDelay: true }, (socket: Socket) => front.accept(socket)) as FrontServer;
  const close = server.close.bind(server);
  server.close = ((callback?: (err?: Error) => void) => {
    front.stop();
    return close(callback);
  }) as FrontServer['close'];
  const drain = (drainLimits: DrainLimits, next: Successor): Promise<void> => {
    successor = next;
    // Under TLS it does not listen itself (the TLS front hands it connections): nothing to close.
    if (server.listening) close();
    return front.drain(drainLimits);
  };
  Object.defineProperties(server, {
    routes: { value: table, enumerable: false },
    drain: { value: drain, enumerable: false },
    closeIdleConnections: { value: () => front.closeIdle(), enumerable: false },
    closeAllConnections: { value: () => front.closeAll(), enumerable: false },
  });
  server.on('close', () => {
    supervisor.events.off('config', onConfig);
    front.dispose();
    table.close();
  });
  return server;
}
