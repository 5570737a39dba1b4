/**
 * `ten caddy --domain D [--output FILE]`: a Caddyfile for running tenement behind Caddy instead
 * of terminating TLS itself (README: Production). Caddy gets certificates on demand and asks
 * tenement's `/api/tls/ask` first, so only names that route are ever ordered; every request is
 * proxied to tenement with its Host kept and X-Forwarded-Proto set, which tenement believes once
 * `[settings] trusted_proxies` lists Caddy's address (the Caddyfile says so).
 * @module
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TenementError } from '../../core/errors.js';
import type { CliContext } from '../command.js';
import { resolveServer } from '../globals.js';

const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

export function renderCaddyfile(domain: string, upstream: URL): string {
  const hostPort = `${upstream.hostname}:${upstream.port === '' ? (upstream.protocol === 'https:' ? '443' : '80') : upstream.port}`;
  return `# Written by \`ten caddy --domain ${domain}\`: Caddy terminates HTTPS and proxies to tenement.
# In tenement.toml, [settings] trusted_proxies = ["127.0.0.1"] makes tenement believe the
# X-Forwarded-Proto and X-Forwarded-For that Caddy sends.
{
	on_demand_tls {
		# tenement answers 200 only for names that route (the domain, a service, a registered instance).
		ask http://${hostPort}/api/tls/ask
	}
}

${domain}, *.${domain}, *.*.${domain} {
	tls {
		on_demand
	}
	header Strict-Transport-Security "max-age=31536000"
	reverse_proxy ${hostPort}
}
`;
}

export function register(program: Command, ctx: CliContext): void {
  program.command('caddy')
    .description('print a Caddyfile that puts Caddy (on-demand HTTPS) in front of tenement')
    .requiredOption('--domain <domain>', 'base domain (the one ten serve --domain uses)')
    .option('--output <file>', 'write the Caddyfile there instead of printing it')
    .action(ctx.action(async (flags: { domain: string; output?: string }) => {
      const domain = flags.domain.toLowerCase();
      if (!DOMAIN.test(domain)) throw new TenementError('usage', `invalid domain ${JSON.stringify(flags.domain)}: expected a DNS name such as example.com`);
      const upstream = new URL(resolveServer(ctx.globals()));
      if (upstream.protocol !== 'http:') throw new TenementError('usage', `--server must be tenement's plain http:// address for Caddy to proxy to, got ${upstream.protocol}`);
      const text = renderCaddyfile(domain, upstream);
      if (flags.output === undefined) return text.trimEnd();
      try {
        writeFileSync(flags.output, text);
      } catch (err) {
        throw new TenementError('unavailable', `cannot write ${flags.output} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      return `wrote ${flags.output}; check it with: caddy validate --config ${flags.output} --adapter caddyfile`;
    }));
}
