/**
 * `ten rollout` over HTTP: start one, read them, pause / resume / abort (docs/api.md, "Rollouts").
 * The engine is supervisor/rollouts.ts; this only parses and hands over.
 * @module
 */
import { RolloutBodySchema, type RolloutStatus } from '../contract.js';
import type { Rollouts } from '../../supervisor/rollouts.js';
import type { ApiRoute, RequestContext } from '../router.js';
import { assertName } from '../../core/names.js';

export function rolloutRoutes(rollouts: Rollouts): ApiRoute[] {
  const control = (verb: 'pause' | 'resume' | 'abort'): ApiRoute => ({
    method: 'POST', path: `/api/rollouts/:service/${verb}`, auth: 'admin', action: `rollout.${verb}`,
    handler: async (ctx) => {
      const service = serviceParam(ctx);
      ctx.setAuditTarget(service);
      const body: RolloutStatus = rollouts[verb](service);
      return { body };
    },
  });
  return [
    {
      method: 'POST', path: '/api/rollouts', auth: 'admin', action: 'rollout.start',
      handler: async (ctx) => {
        const body = await ctx.body(RolloutBodySchema);
        ctx.setAuditTarget(body.service);
        const status: RolloutStatus = rollouts.start({
          service: body.service, cohorts: body.cohorts, intervalMs: body.interval === undefined ? undefined : body.interval * 1000,
        });
        return { status: 201, body: status };
      },
    },
    {
      method: 'GET', path: '/api/rollouts', auth: 'admin',
      handler: async () => ({ body: rollouts.list() }),
    },
    {
      method: 'GET', path: '/api/rollouts/:service', auth: 'admin',
      handler: async (ctx) => ({ body: rollouts.status(serviceParam(ctx)) }),
    },
    control('pause'),
    control('resume'),
    control('abort'),
  ];
}

function serviceParam(ctx: RequestContext): string {
  const service = ctx.params.service ?? '';
  assertName('service', service);
  return service;
}
