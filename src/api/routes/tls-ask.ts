/**
 * `GET /api/tls/ask?domain=NAME`: 200 when NAME routes (the bare domain, a service, a registered
 * instance), 404 otherwise. The `ask` endpoint of Caddy's on-demand TLS (`ten caddy`), so Caddy
 * only asks its CA for names tenement serves. No token (Caddy sends none), so only loopback
 * clients are answered: it would otherwise let anyone list tenant names.
 * @module
 */
import { TenementError } from '../../core/errors.js';
import type { ApiRoute } from '../router.js';

export const TLS_ASK_PATH = '/api/tls/ask';

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export function tlsAskRoutes(deps: { readonly routes: (name: string) => boolean }): ApiRoute[] {
  return [{
    method: 'GET', path: TLS_ASK_PATH, auth: 'none',
    handler: async ({ req, query }) => {
      if (!isLoopback(req.socket.remoteAddress)) throw new TenementError('forbidden', 'this endpoint answers local clients only');
      const name = query.get('domain');
      if (name === null || name === '') throw new TenementError('bad_request', 'missing ?domain=NAME');
      if (!deps.routes(name)) throw new TenementError('not_found', 'no route for this name');
      return { body: { domain: name.toLowerCase(), routes: true } };
    },
  }];
}
