/**
 * Version rollout: `POST /api/deploy` (spawn `service:version`, wait healthy, then give it weight)
 * and `POST /api/route` (move all weight from one version to another in one store transaction).
 * @module
 */
import { TenementError, toTenementError } from '../../core/errors.js';
import { isServing, refusesRequests } from '../../core/lifecycle.js';
import {
  DeployBodySchema, RouteBodySchema,
  type DeployResponse, type RouteResponse,
} from '../contract.js';
import type { ApiRoute } from '../router.js';
import type { ApiContext } from '../context.js';
import { assertServiceExists } from './instances.js';

export function deployRoutes(api: ApiContext): ApiRoute[] {
  const { supervisor, logger } = api;

  return [
    {
      method: 'POST', path: '/api/deploy', auth: 'admin', action: 'deploy',
      handler: async (ctx) => {
        const body = await ctx.body(DeployBodySchema);
        const name = `${body.service}:${body.version}`;
        ctx.setAuditTarget(name);
        assertServiceExists(api, body.service);
        const existing = supervisor.get(body.service, body.version);
        try {
          await withTimeout(body.timeoutS, name, async () => {
            // A new version starts with weight 0, so no traffic reaches it before it is healthy.
            if (existing === undefined) await supervisor.spawn(body.service, body.version, { weight: 0, wait: true });
            else if (!isServing(existing.state)) {
              await supervisor.start(body.service, body.version, { wait: true });
            }
          });
        } catch (err) {
          const cause = toTenementError(err);
          if (cause.code === 'internal') throw err;
          if (existing === undefined) {
            supervisor.stop(body.service, body.version).catch((stopErr: unknown) => {
              logger.warn({ err: stopErr, instance: name }, 'could not stop a failed deploy');
            });
          }
          throw new TenementError(cause.code, `deploy of ${name} failed: ${cause.message}; routing unchanged`, {
            hint: `see \`ten logs ${name}\``, cause: err,
          });
        }
        const response: DeployResponse = { instance: supervisor.setWeight(body.service, body.version, body.weight) };
        return { body: response };
      },
    },
    {
      method: 'POST', path: '/api/route', auth: 'admin', action: 'route',
      handler: async (ctx) => {
        const body = await ctx.body(RouteBodySchema);
        ctx.setAuditTarget(`${body.service}:${body.from}->${body.to}`);
        assertServiceExists(api, body.service);
        supervisor.info(body.service, body.from);
        const to = supervisor.info(body.service, body.to);
        if (refusesRequests(to.state)) {
          throw new TenementError('invalid_state', `cannot route to ${to.instance}: it is ${to.state}`, {
            hint: `\`ten restart ${to.instance}\` first`,
          });
        }
        supervisor.setWeights([
          { service: body.service, id: body.from, weight: 0 },
          { service: body.service, id: body.to, weight: 100 },
        ]);
        const response: RouteResponse = {
          from: supervisor.info(body.service, body.from),
          to: supervisor.info(body.service, body.to),
        };
        return { body: response };
      },
    },
  ];
}

async function withTimeout(timeoutS: number, name: string, work: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new TenementError('startup_timeout', `${name} was not healthy within ${timeoutS} s`));
    }, timeoutS * 1000);
  });
  try {
    await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
