/**
 * `GET /api/events`: state, lifecycle and weight changes (and, for admins, config reloads, rollouts
 * and canary deploys) as server-sent events. A tenant token
 * sees only its own instances; `?instance=service:id` narrows the stream to one instance. A client
 * that stops reading is dropped (api/sse.ts).
 * @module
 */
import { parseInstanceName } from '../../core/names.js';
import type { CanaryStatus, ConfigChangeEvent, LifecycleEvent, RolloutEvent, StateChangeEvent, WeightChangeEvent } from '../../core/events.js';
import type { ApiRoute } from '../router.js';
import type { ApiContext } from '../context.js';

export function eventRoutes(api: ApiContext): ApiRoute[] {
  return [{
    method: 'GET', path: '/api/events', auth: 'read',
    handler: async (ctx) => {
      const only = ctx.query.get('instance');
      if (only !== null) {
        const name = parseInstanceName(only);
        ctx.assertCanRead(name.service, name.id);
      }
      const tenant = ctx.token?.tenant ?? null;
      const wanted = (e: { instance: string; id: string }): boolean =>
        (tenant === null || e.id === tenant) && (only === null || e.instance === only);

      const stream = api.sse.start(ctx.res, 'retry: 2000\n\n');
      const write = (event: string, data: unknown): void => {
        stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const onState = (e: StateChangeEvent): void => { if (wanted(e)) write('state', e); };
      const onLifecycle = (e: LifecycleEvent): void => { if (wanted(e)) write('lifecycle', e); };
      const onWeight = (e: WeightChangeEvent): void => { if (wanted(e)) write('weight', e); };
      api.events.on('state', onState);
      api.events.on('lifecycle', onLifecycle);
      api.events.on('weight', onWeight);
      // A reload may make instances outdated: admins' views refresh (it names no instance).
      const onConfig = (e: ConfigChangeEvent): void => { if (tenant === null && only === null) write('config', e); };
      api.events.on('config', onConfig);
      // Rollouts and canary deploys concern a whole service: admins only, like config.
      const onRollout = (e: RolloutEvent): void => { if (tenant === null && only === null) write('rollout', e); };
      api.events.on('rollout', onRollout);
      const onDeploy = (e: CanaryStatus): void => { if (tenant === null && only === null) write('deploy', e); };
      api.events.on('deploy', onDeploy);
      stream.onClose(() => {
        api.events.off('rollout', onRollout);
        api.events.off('deploy', onDeploy);
        api.events.off('config', onConfig);
        api.events.off('state', onState);
        api.events.off('lifecycle', onLifecycle);
        api.events.off('weight', onWeight);
      });
    },
  }];
}
