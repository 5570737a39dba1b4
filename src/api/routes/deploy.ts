/**
 * Version rollout over HTTP: `POST /api/deploy` and `POST /api/route` parse the body and hand it to
 * the supervisor's Deployments (spawn healthy, then weight; swap weights in one step); a deploy
 * with `canary` and `/api/deploys` go to its CanaryDeploys.
 * @module
 */
import { assertName, formatInstanceName } from '../../core/names.js';
import {
  DeployBodySchema, RouteBodySchema,
  type CanaryStatus, type DeployResponse, type RouteResponse,
} from '../contract.js';
import type { ApiContext } from '../context.js';
import type { ApiRoute, RequestContext } from '../router.js';

export function deployRoutes(api: ApiContext): ApiRoute[] {
  const { deployments, canaries } = api;

  return [
    {
      method: 'POST', path: '/api/deploy', auth: 'admin', action: 'deploy',
      handler: async (ctx) => {
        const body = await ctx.body(DeployBodySchema);
        ctx.setAuditTarget(formatInstanceName(body.service, body.version));
        if (body.canary !== undefined) {
          const status: CanaryStatus = canaries.start({
            service: body.service, version: body.version, steps: body.canary.steps, intervalMs: body.canary.intervalS * 1000, timeoutMs: body.timeoutS * 1000,
          });
          return { status: 202, body: status };
        }
        const instance = await deployments.deploy({ service: body.service, version: body.version, weight: body.weight, timeoutMs: body.timeoutS * 1000 });
        const response: DeployResponse = { instance };
        return { body: response };
      },
    },
    {
      method: 'GET', path: '/api/deploys', auth: 'admin',
      handler: async () => ({ body: canaries.list() satisfies CanaryStatus[] }),
    },
    {
      method: 'GET', path: '/api/deploys/:service', auth: 'admin',
      handler: async (ctx) => ({ body: canaries.get(serviceParam(ctx)) satisfies CanaryStatus }),
    },
    {
      method: 'POST', path: '/api/deploys/:service/abort', auth: 'admin', action: 'deploy.abort',
      handler: async (ctx) => {
        const service = serviceParam(ctx);
        ctx.setAuditTarget(service);
        return { body: (await canaries.abort(service)) satisfies CanaryStatus };
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

function serviceParam(ctx: RequestContext): string {
  return assertName('service', ctx.params['service'] ?? '');
}
