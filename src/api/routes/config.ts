/**
 * `GET /api/server` (what a client needs to build instance URLs) and `GET /api/config` (the
 * services as the server loaded them, for `ten config`).
 * @module
 */
import { readFileSync } from 'node:fs';
import { SERVICE_KEYS } from '../../config/schema.js';
import type { ServiceConfig } from '../../config/types.js';
import type { ConfigResponse, ServerInfoResponse, ServiceConfigResponse } from '../contract.js';
import type { ApiRoute } from '../router.js';
import type { ApiContext } from '../context.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function configRoutes(api: ApiContext): ApiRoute[] {
  return [
    {
      method: 'GET', path: '/api/server', auth: 'read',
      handler: async (ctx) => {
        const body: ServerInfoResponse = { version: VERSION, domain: api.domain ?? 'localhost', port: ctx.req.socket.localPort ?? 0 };
        return { body };
      },
    },
    {
      method: 'GET', path: '/api/config', auth: 'admin',
      handler: async () => {
        const body: ConfigResponse = {
          services: Object.values(api.config.services).map((s) => toResponse(s, api.config.instances[s.name] ?? [])),
        };
        return { body };
      },
    },
  ];
}

/** The table as written (defaults filled in, absent keys as null), with argv, absolute workdir and ids. */
function toResponse(s: ServiceConfig, instances: readonly string[]): ServiceConfigResponse {
  const written: Record<string, unknown> = {};
  for (const key of SERVICE_KEYS) {
    if (key === 'command' || key === 'args' || key === 'workdir') continue;
    written[key] = s.asWritten[key] ?? null;
  }
  return { name: s.name, argv: [...s.argv], workdir: s.workdir, ...written, instances: [...instances] } as ServiceConfigResponse;
}
