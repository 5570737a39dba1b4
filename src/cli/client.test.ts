import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exitCodeOf, TenementError } from '../core/errors.js';
import { ApiClient } from './client.js';

async function serveOnce(t: { after: (fn: () => Promise<void>) => void }, status: number, body: string): Promise<{ url: string; seen: Array<string | undefined> }> {
  const seen: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('error bodies come back as TenementError with the server code, message and hint', async (t) => {
  const { url, seen } = await serveOnce(t, 400, JSON.stringify({ error: { code: 'invalid_weight', message: 'weight must be 0-100', hint: 'try 50' } }));
  const err = await new ApiClient(url, 'tnm_x').list().catch((e: unknown) => e);
  assert.ok(err instanceof TenementError);
  assert.equal(err.code, 'invalid_weight');
  assert.equal(exitCodeOf(err.code), 2);
  assert.equal(err.message, 'weight must be 0-100');
  assert.equal(err.hint, 'try 50');
  assert.deepEqual(seen, ['Bearer tnm_x']);
});

test('a non-tenement answer is reported, not guessed from the status', async (t) => {
  const { url } = await serveOnce(t, 404, '<html>nginx</html>');
  const err = await new ApiClient(url, undefined).list().catch((e: unknown) => e);
  assert.ok(err instanceof TenementError);
  assert.equal(err.code, 'internal');
  assert.match(err.message, /unexpected answer .* HTTP 404/);
});

test('an unreachable server says so and names the URL', async (t) => {
  const { url } = await serveOnce(t, 200, '[]');
  const closedUrl = url.replace(/:\d+$/, ':1');
  const err = await new ApiClient(closedUrl, undefined).list().catch((e: unknown) => e);
  assert.ok(err instanceof TenementError);
  assert.equal(err.code, 'server_unreachable');
  assert.equal(err.message, `cannot reach tenement at ${closedUrl} (is \`ten serve\` running?)`);
});
