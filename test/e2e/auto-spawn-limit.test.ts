// auto_spawn through the real server: one client address may register 10 new instances a minute
// (the default); the next gets 429 with Retry-After and registers nothing, while traffic to
// registered instances and new registrations from other addresses go on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { APP_SERVICE, instances } from './proxy-helpers.js';

const CONFIG = APP_SERVICE('auto', 'auto_spawn = true\nmax_instances = 100');

function get(d: Daemon, host: string, localAddress = '127.0.0.1'): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: d.port, path: '/whoami', localAddress, agent: false, headers: { host }, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('auto_spawn registrations are limited per client address: the 11th in a minute gets 429', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  for (let i = 0; i < 10; i++) assert.equal((await get(d, `t${i}.auto.localhost`)).status, 200, `t${i}`);
  const refused = await get(d, 'eleven.auto.localhost');
  assert.equal(refused.status, 429);
  assert.equal(refused.retryAfter, '60');
  assert.equal(refused.body, 'too many requests\n');
  const names = (await instances(d)).map((i) => i.instance);
  assert.equal(names.length, 10);
  assert.ok(!names.includes('auto:eleven'), 'the refused id was not registered');

  // Instances already registered are not new registrations: their traffic goes on.
  assert.equal((await get(d, 't3.auto.localhost')).status, 200);
  // Another client address has its own budget.
  assert.equal((await get(d, 'other.auto.localhost', '127.0.0.2')).status, 200);
  assert.equal((await instances(d)).length, 11);
});
