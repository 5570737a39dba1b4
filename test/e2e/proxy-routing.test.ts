import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoLeak, startDaemon } from '../helpers/daemon.js';
import { APP_SERVICE, instances, through, waitForAnswer } from './proxy-helpers.js';

const CONFIG = `
${APP_SERVICE('api')}
${APP_SERVICE('web')}
${APP_SERVICE('auto', 'auto_spawn = true\nmax_instances = 2')}
[instances]
api = ["a", "b"]
web = ["one"]

[routing]
default = "web"
[routing.subdomain]
"admin" = "api"
[routing.path]
"/app" = "api"
`;

test('routing through the real server: patterns, overrides, weights, auto-spawn, 404s that leak nothing', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  await Promise.all(['a.api.localhost', 'b.api.localhost', 'one.web.localhost'].map((h) => waitForAnswer(d, h)));

  const cases: Array<[string, string, number, RegExp]> = [
    ['a.api.localhost', '/x', 200, /^api:a GET \/x/],
    ['B.Api.LocalHost:1234', '/y?z=1', 200, /^api:b GET \/y\?z=1/],
    ['api.localhost', '/', 200, /^api:[ab] /],
    ['admin.localhost', '/', 200, /^api:[ab] /],
    ['localhost', '/', 200, /^web:one GET \//],
    ['localhost', '/app/page', 200, /^api:[ab] GET \/app\/page/],
    ['localhost', '/health', 200, /"status":"ok"/],
    ['127.0.0.1', '/api/instances', 401, /./],
    ['nobody.api.localhost', '/', 404, /^not found\n$/],
    ['a.nosuch.localhost', '/', 404, /^not found\n$/],
    ['nosuch.localhost', '/', 404, /^not found\n$/],
    ['x.a.api.localhost', '/', 404, /^not found\n$/],
    ['Bad_.api.localhost', '/', 404, /^not found\n$/],
    ['a.api.example.com', '/', 404, /^not found\n$/],
  ];
  const rows = await instances(d);
  const pids = rows.map((r) => r.pid).filter((p): p is number => p !== null);
  for (const [host, path, status, body] of cases) {
    const r = await through(d, host, path);
    assert.equal(r.status, status, `${host}${path}: ${r.body.toString()}`);
    assert.match(r.body.toString(), body, `${host}${path}`);
    if (status === 404) assertNoLeak(r.body.toString(), { pids });
  }

  assert.equal((await d.ten(['weight', 'api:a', '80'])).code, 0);
  assert.equal((await d.ten(['weight', 'api:b', '20'])).code, 0);
  let a = 0;
  for (let i = 0; i < 1000; i++) if ((await through(d, 'api.localhost', '/')).body.toString().startsWith('api:a')) a++;
  assert.ok(Math.abs(a / 10 - 80) <= 6, `80/20 weights gave ${a}/${1000 - a}`);

  assert.equal((await d.ten(['weight', 'api:a', '0'])).code, 0);
  for (let i = 0; i < 100; i++) assert.match((await through(d, 'api.localhost', '/')).body.toString(), /^api:b /, 'weight 0 got traffic');
  assert.match((await through(d, 'a.api.localhost', '/')).body.toString(), /^api:a /, 'direct routing ignores weight');

  const first = await through(d, 'one.auto.localhost', '/whoami');
  assert.equal(first.status, 200, first.body.toString());
  assert.equal((await through(d, 'two.auto.localhost', '/whoami')).status, 200);
  const over = await through(d, 'three.auto.localhost', '/whoami');
  assert.equal(over.status, 503);
  assertNoLeak(over.body.toString());
  assert.equal((await through(d, 'bad_.auto.localhost', '/')).status, 404);
});
