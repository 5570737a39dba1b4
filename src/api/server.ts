/**
 * The management handler for the bare domain: /health, /api/*, extra routes (logs, telemetry,
 * /metrics), the dashboard's static files, bearer auth, the audit trail, and the ONE place where
 * errors become HTTP responses.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { httpStatusOf, TenementError, toTenementError } from '../core/errors.js';
import { isManagementPath } from '../core/management-paths.js';
import type { Config } from '../config/types.js';
import { AuditLog } from '../store/audit.js';
import type { ErrorBody } from './contract.js';
import type { ApiContext } from './context.js';
import { Authenticator, DEFAULT_AUTH_LIMITS } from './auth.js';
import { readJsonBody } from './body.js';
import { DashboardFiles } from './dashboard-files.js';
import { Router, type ApiResult, type ApiRoute, type AuthToken, type RequestContext } from './router.js';
import { configRoutes } from './routes/config.js';
import { deployRoutes } from './routes/deploy.js';
import { eventRoutes } from './routes/events.js';
import { instanceRoutes } from './routes/instances.js';
import { rolloutRoutes } from './routes/rollouts.js';

export type ManagementHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createManagementHandler(ctx: ApiContext): ManagementHandler {
  const router = new Router([
    { method: 'GET', path: '/health', auth: 'none', handler: async () => ({ body: { status: 'ok' } }) },
    ...instanceRoutes(ctx),
    ...deployRoutes(ctx),
    ...eventRoutes(ctx),
    ...configRoutes(ctx),
    ...(ctx.rollouts === undefined ? [] : rolloutRoutes(ctx.rollouts)),
    ...ctx.extraRoutes.map((r) => withMetricsAuth(r, ctx.config)),
  ]);
  const auth = new Authenticator(ctx.db, ctx.authLimits ?? DEFAULT_AUTH_LIMITS);
  const audit = new AuditLog(ctx.db);
  const dashboard = ctx.dashboardDir === undefined ? undefined : new DashboardFiles(ctx.dashboardDir, ctx.logger);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const match = router.match(method, url.pathname);
    if (match === undefined || match === 'method_not_allowed') {
      if (dashboard !== undefined && (method === 'GET' || method === 'HEAD') && !isManagementPath(url.pathname)) {
        const file = await dashboard.read(url.pathname);
        if (file !== undefined) return send(res, method, { body: file.content, contentType: file.contentType });
      }
      throw match === undefined
        ? new TenementError('not_found', `no such route: ${method} ${truncate(url.pathname)}`)
        : new TenementError('not_found', `${method} is not allowed on ${truncate(url.pathname)}`);
    }
    const { route, params } = match;
    const token = route.auth === 'none' ? null : auth.authenticate(req.headers.authorization, req.socket.remoteAddress ?? 'unknown');
    const audited = route.method !== 'GET' && route.auth !== 'none';
    let auditTarget = params.name ?? '-';
    if (route.auth === 'admin' && token !== null && token.tenant !== null) {
      if (audited) recordAudit(token, route, auditTarget, 'forbidden');
      throw new TenementError('forbidden', 'this token is read-only for one tenant; the operation needs an admin token');
    }
    const requestCtx: RequestContext = {
      req, res, params, token,
      query: url.searchParams,
      body: (schema) => readJsonBody(req, schema),
      assertCanRead: (service, id) => assertCanRead(token, service, id),
      setAuditTarget: (target) => { auditTarget = target; },
    };
    let result: ApiResult | void;
    try {
      result = await route.handler(requestCtx);
    } catch (err) {
      if (audited) recordAudit(token, route, auditTarget, toTenementError(err).code);
      throw err;
    }
    if (audited) recordAudit(token, route, auditTarget, 'ok');
    if (result !== undefined) send(res, method, result);
  }

  function recordAudit(token: AuthToken | null, route: ApiRoute, target: string, result: string): void {
    try {
      audit.record({ at: Date.now(), tokenId: token?.id ?? null, action: route.action ?? `${route.method} ${route.path}`, target, result });
    } catch (err) {
      ctx.logger.error({ err }, 'could not write the audit record');
    }
  }

  return (req, res) => {
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    handle(req, res).catch((err: unknown) => sendError(res, err, ctx.logger));
  };
}

/**
 * On every answer of tenement's own (dashboard, API, errors, streams): scripts, styles and
 * requests only from this origin and no inline code (the dashboard has none), never framed, no
 * content sniffing. A JSON answer opened as a page can run nothing.
 */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"],
  ['x-frame-options', 'DENY'],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
];

/** `/metrics` is public only with `[settings] public_metrics = true`, whatever the route declares. */
function withMetricsAuth(route: ApiRoute, config: Config): ApiRoute {
  if (route.path !== '/metrics') return route;
  return { ...route, auth: config.settings.publicMetrics ? 'none' : 'admin' };
}

function assertCanRead(token: AuthToken | null, _service: string, id: string): void {
  if (token === null || token.tenant === null || token.tenant === id) return;
  throw new TenementError('forbidden', `this token may only read instances with id "${token.tenant}"`);
}

function send(res: ServerResponse, method: string, result: ApiResult): void {
  const status = result.status ?? 200;
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
  if (result.body === undefined) {
    res.writeHead(status === 200 ? 204 : status).end();
    return;
  }
  const isRaw = typeof result.body === 'string' || Buffer.isBuffer(result.body);
  const payload = isRaw ? (result.body as string | Buffer) : JSON.stringify(result.body);
  res.writeHead(status, {
    'content-type': isRaw ? (result.contentType ?? 'text/plain; charset=utf-8') : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(method === 'HEAD' ? undefined : payload);
}

/** The one error hook: coded errors keep their status; anything else is a bug, logged with an id. */
function sendError(res: ServerResponse, err: unknown, logger: Logger): void {
  let e = toTenementError(err);
  if (e.code === 'internal') {
    const errorId = randomBytes(4).toString('hex');
    logger.error({ err, errorId }, 'unhandled error in the management API');
    e = new TenementError('internal', `internal error (id ${errorId}); see the server log`);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = httpStatusOf(e.code) || 500;
  const body: ErrorBody = { error: { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) } };
  const retryAfterS = e.details?.retryAfterS;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...(typeof retryAfterS === 'number' ? { 'retry-after': String(retryAfterS) } : {}),
  });
  res.end(payload);
  if (e.code === 'payload_too_large') discardRestOfBody(res.req);
}

/** What a client may still send after its 413 before the connection is cut. */
const DISCARD_LIMIT = { bytes: 16 * 1024 * 1024, ms: 10_000 };

/**
 * After a 413 the rest of the body is read and dropped, so the client reads its answer instead of
 * a connection reset (closing a socket with unread input sends RST). Bounded in bytes and time.
 */
function discardRestOfBody(req: IncomingMessage): void {
  if (req.complete) return;
  const cut = (): void => void req.socket.destroy();
  const timer = setTimeout(cut, DISCARD_LIMIT.ms);
  timer.unref();
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT.bytes) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
