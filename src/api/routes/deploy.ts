/**
 * Version rollout over HTTP: `POST /api/deploy` and `POST /api/route` parse the body and hand it to
 * the supervisor's Deployments (spawn healthy, then weight; swap weights in one step).
 * @module
 */
import { formatInstanceName } from '../../core/names.js';
import {
  DeployBodySchema, RouteBodySchema,
  type DeployResponse, type RouteResponse,
} from '../contract.js';
import type { ApiContext } from '../context.js';
import type { ApiRoute } from '../router.js';

export function deployRoutes(api: ApiContext): ApiRoute[] {
  const { deployments } = api;

  return [
    {
      method: 'POST', path: '/api/deploy', auth: 'admin', action: 'deploy',
      handler: async (ctx) => {
        const body = await ctx.body(DeployBodySchema);
        ctx.setAuditTarget(formatInstanceName(body.service, body.version));
        const instance = await deployments.deploy({ service: body.service, version: body.version, weight: body.weight, timeoutMs: body.timeoutS * 1000 });
        const response: DeployResponse = { instance };
        return { body: response };
      },
    },
    {
      method: 'POST', path: '/api/route', auth: 'admin', action: 'route',
      handler: async (ctx) => {
        const body = await ctx.body(RouteBodySchema);
        ctx.setAuditTarget(`${body.service}:${body.from}->${body.to}`);
        const response: RouteResponse = deployments.route(body);
        return { body: response };
      },
    },
  ];
}
