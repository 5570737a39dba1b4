/**
 * Instance routes: list, spawn, info, start/stop/restart/wake, remove, weight, health (docs/api.md).
 * @module
 */
import { formatInstanceName, formatInstanceUrl, parseInstanceName, type InstanceName } from '../../core/names.js';
import {
  SpawnBodySchema, StartBodySchema, StopBodySchema, WeightBodySchema,
  type HealthResponse, type RemoveResponse, type SpawnResponse,
} from '../contract.js';
import type { ApiRoute, RequestContext } from '../router.js';
import type { ApiContext } from '../context.js';

export function instanceRoutes(api: ApiContext): ApiRoute[] {
  const { supervisor } = api;

  /** The `:name` parameter as `service:id`, checked against the token's scope. */
  function target(ctx: RequestContext): InstanceName {
    const name = parseInstanceName(ctx.params.name ?? '');
    ctx.assertCanRead(name.service, name.id);
    ctx.setAuditTarget(formatInstanceName(name.service, name.id));
    return name;
  }

  return [
    {
      method: 'GET', path: '/api/instances', auth: 'read',
      handler: async (ctx) => {
        const tenant = ctx.token?.tenant ?? null;
        const all = supervisor.list();
        return { body: tenant === null ? all : all.filter((i) => i.id === tenant) };
      },
    },
    {
      method: 'POST', path: '/api/instances', auth: 'admin', action: 'instance.spawn',
      handler: async (ctx) => {
        const body = await ctx.body(SpawnBodySchema);
        ctx.setAuditTarget(formatInstanceName(body.service, body.id));
        const info = await supervisor.spawn(body.service, body.id, {
          ...(body.weight === undefined ? {} : { weight: body.weight }),
          wait: body.wait,
        });
        const tls = api.config.settings.tls;
        const url = tls.enabled
          ? formatInstanceUrl(info, api.domain ?? 'localhost', tls.httpsPort, 'https')
          : formatInstanceUrl(info, api.domain ?? 'localhost', ctx.req.socket.localPort ?? 0);
        const response: SpawnResponse = { ...info, url };
        return { status: 201, body: response };
      },
    },
    {
      method: 'GET', path: '/api/instances/:name', auth: 'read',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        return { body: supervisor.info(service, id) };
      },
    },
    {
      method: 'GET', path: '/api/instances/:name/health', auth: 'read',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        const info = supervisor.info(service, id);
        const body: HealthResponse = { instance: info.instance, health: info.health, health_check_status: info.health_check_status, state: info.state };
        return { body };
      },
    },
    {
      method: 'POST', path: '/api/instances/:name/start', auth: 'admin', action: 'instance.start',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        const body = await ctx.body(StartBodySchema);
        return { body: await supervisor.start(service, id, { wait: body?.wait ?? isTrue(ctx.query.get('wait')) }) };
      },
    },
    {
      method: 'POST', path: '/api/instances/:name/stop', auth: 'admin', action: 'instance.stop',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        const body = await ctx.body(StopBodySchema);
        const hold = body?.hold ?? isTrue(ctx.query.get('hold'));
        return { body: await supervisor.stop(service, id, { hold }) };
      },
    },
    {
      // Starts a wake (or thaw) ahead of a user's first request; answers at once.
      method: 'POST', path: '/api/instances/:name/wake', auth: 'admin', action: 'instance.wake',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        return { status: 202, body: await supervisor.wake(service, id) };
      },
    },
    {
      method: 'POST', path: '/api/instances/:name/restart', auth: 'admin', action: 'instance.restart',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        const body = await ctx.body(StartBodySchema);
        return { body: await supervisor.restart(service, id, { wait: body?.wait ?? isTrue(ctx.query.get('wait')) }) };
      },
    },
    {
      method: 'DELETE', path: '/api/instances/:name', auth: 'admin', action: 'instance.remove',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        const purge = isTrue(ctx.query.get('purge'));
        await supervisor.remove(service, id, { purge });
        const body: RemoveResponse = { instance: formatInstanceName(service, id), removed: true, purged: purge };
        return { body };
      },
    },
    {
      method: 'PUT', path: '/api/instances/:name/weight', auth: 'admin', action: 'instance.weight',
      handler: async (ctx) => {
        const { service, id } = target(ctx);
        const { weight } = await ctx.body(WeightBodySchema);
        return { body: supervisor.setWeight(service, id, weight) };
      },
    },
  ];
}

/** Query flags: `?purge`, `?purge=true`, `?purge=1`. */
function isTrue(value: string | null): boolean {
  return value !== null && (value === '' || value === 'true' || value === '1');
}
