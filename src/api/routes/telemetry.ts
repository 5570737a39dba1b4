/**
 * `GET /api/telemetry`: per-instance requests, latency, health, restarts, uptime and resources.
 * A tenant token sees only its own instances.
 * @module
 */
import { collectTelemetry, type TelemetrySources } from '../../observability/telemetry.js';
import type { ApiRoute } from '../router.js';

export function telemetryRoutes(sources: TelemetrySources): ApiRoute[] {
  return [{
    method: 'GET', path: '/api/telemetry', auth: 'read',
    handler: async (ctx) => {
      const tenant = ctx.token?.tenant ?? null;
      return { body: collectTelemetry(sources, (info) => tenant === null || info.id === tenant) };
    },
  }];
}
