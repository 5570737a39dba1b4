// The dashboard keeps the admin token in its origin's session storage, so no tenant page may share
// that origin. With [routing.path] putting a tenant on the bare domain, the dashboard is served only
// on tenement.{domain}, which never carries tenant content; the API stays on both. Every answer of
// tenement's own sends Content-Security-Policy and X-Frame-Options: DENY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTen, startDaemon, tempDir, type Daemon } from '../helpers/daemon.js';
import { APP_SERVICE, through, waitForAnswer } from './proxy-helpers.js';

const CONFIG = `
${APP_SERVICE('site')}
[instances]
site = ["main"]

[routing.path]
"/app" = "site"
`;

function assertLockedDown(headers: Record<string, string | string[] | undefined>, what: string): void {
  const csp = String(headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/, `${what}: CSP`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP forbids framing`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: CSP allows no inline code`);
  assert.equal(headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
}

async function get(d: Daemon, host: string, path: string, token?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const r = await through(d, host, path, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, headers: r.headers, body: r.body.toString() };
}

test('with a tenant on the bare domain, the dashboard lives only on tenement.{domain}', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  await waitForAnswer(d, 'main.site.localhost');
  assert.match(d.output(), /dashboard at http:\/\/tenement\.localhost:\d+\//, 'ten serve says where the dashboard is');

  for (const host of ['localhost', '127.0.0.1']) {
    const tenant = await get(d, host, '/app/page');
    assert.equal(tenant.status, 200);
    assert.match(tenant.body, /^site:main GET \/app\/page/);
    for (const path of ['/', '/index.html', '/app.js', '/api.js']) {
      const r = await get(d, host, path);
      assert.equal(r.status, 404, `${host}${path} must not serve the dashboard next to tenant pages`);
      assert.doesNotMatch(r.body, /tenement|sessionStorage/);
    }
    // The API, /health and /metrics stay on the bare domain (the CLI and scrapers use them).
    const api = await get(d, host, '/api/instances', d.token);
    assert.equal(api.status, 200);
    assertLockedDown(api.headers, `${host}/api/instances`);
  }

  const page = await get(d, 'tenement.localhost', '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>tenement<\/title>/);
  assertLockedDown(page.headers, 'the dashboard page');
  assertLockedDown((await get(d, 'tenement.localhost', '/app.js')).headers, 'the dashboard script');
  const api = await get(d, 'tenement.localhost', '/api/instances', d.token);
  assert.equal(api.status, 200);
  assert.equal((JSON.parse(api.body) as unknown[]).length, 1);
  // Never tenant content there, whatever the path.
  const notTenant = await get(d, 'tenement.localhost', '/app/page');
  assert.equal(notTenant.status, 404);
  assert.doesNotMatch(notTenant.body, /site:main/);
  assertLockedDown(notTenant.headers, 'a 404 of the dashboard host');
  const refused = await get(d, 'tenement.localhost', '/api/instances');
  assert.equal(refused.status, 401);
  assertLockedDown(refused.headers, 'an API error');
});

test('without tenants on the bare domain the dashboard stays there too, with the same headers', async (t) => {
  const d = await startDaemon(t, { config: APP_SERVICE('site') });
  for (const host of ['localhost', '127.0.0.1', 'tenement.localhost']) {
    const page = await get(d, host, '/');
    assert.equal(page.status, 200, host);
    assert.match(page.body, /<title>tenement<\/title>/);
    assertLockedDown(page.headers, `${host}/`);
  }
  assertLockedDown((await get(d, 'localhost', '/health')).headers, '/health');
});

test('a service or subdomain named "tenement" is refused before the server binds', async (t) => {
  const dir = tempDir(t);
  for (const [toml, key] of [
    ['[service.tenement]\ncommand = "node app.js"\n', 'service.tenement'],
    ['[service.web]\ncommand = "node app.js"\n[routing.subdomain]\ntenement = "web"\n', 'routing.subdomain.tenement'],
  ] as const) {
    const file = join(dir, 'tenement.toml');
    writeFileSync(file, toml);
    const r = await runTen(['serve', '--config', file, '--port', '0'], {}, dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: tenement\\.toml: ${key.replaceAll('.', '\\.')}: .*reserved`));
  }
});
