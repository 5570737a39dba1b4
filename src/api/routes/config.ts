/**
 * `GET /api/server` (what a client needs to build instance URLs) and `GET /api/config` (the
 * services as the server loaded them, for `ten config`).
 * @module
 */
import { readFileSync } from 'node:fs';
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

function toResponse(s: ServiceConfig, instances: readonly string[]): ServiceConfigResponse {
  return {
    name: s.name,
    argv: [...s.argv],
    workdir: s.workdir,
    health: s.health ?? null,
    isolation: s.isolation,
    idle_timeout: s.idleTimeoutMs / 1000,
    startup_timeout: s.startupTimeoutMs / 1000,
    request_timeout: s.requestTimeoutMs / 1000,
    stop_timeout: s.stopTimeoutMs / 1000,
    restart: s.restart,
    storage_persist: s.storagePersist,
    memory_limit_mb: s.memoryLimitMb ?? null,
    cpu_shares: s.cpuShares ?? null,
    storage_quota_mb: s.storageQuotaMb ?? null,
    auto_spawn: s.autoSpawn,
    max_instances: s.maxInstances,
    env: { ...s.env },
    instances: [...instances],
  };
}
