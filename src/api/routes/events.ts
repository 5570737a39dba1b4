/**
 * `GET /api/events`: state, lifecycle and weight changes as server-sent events. A tenant token
 * sees only its own instances; `?instance=service:id` narrows the stream to one instance. A client
 * that stops reading is dropped (api/sse.ts).
 * @module
 */
import { parseInstanceName } from '../../core/names.js';
import type { LifecycleEvent, StateChangeEvent, WeightChangeEvent } from '../../core/events.js';
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
      stream.onClose(() => {
        api.events.off('state', onState);
        api.events.off('lifecycle', onLifecycle);
        api.events.off('weight', onWeight);
      });
    },
  }];
}
