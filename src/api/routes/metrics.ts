/**
 * `GET /metrics`: the Prometheus text exposition. Admin token, unless `[settings] public_metrics`
 * (api/server.ts applies that switch to this path).
 * @module
 */
import type { Metrics } from '../../observability/metrics.js';
import type { ApiRoute } from '../router.js';

export function metricsRoutes(deps: { readonly metrics: Pick<Metrics, 'render' | 'contentType'> }): ApiRoute[] {
  return [{
    method: 'GET', path: '/metrics', auth: 'admin',
    handler: async () => ({ body: await deps.metrics.render(), contentType: deps.metrics.contentType }),
  }];
}
