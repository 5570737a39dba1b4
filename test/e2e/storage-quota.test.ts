// storage_quota_mb through the real server: a warning event past 80 %, and the instance stopped and
// held (not woken by traffic) with a clear event at 100 %.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, waitFor } from '../helpers/daemon.js';

test('an instance over its storage quota is warned at 80 % and stopped at 100 %', async (t) => {
  const d = await startDaemon(t, { config: `
[service.files]
command = "node {apps}/disk-writer.mjs"
health = "/health"
storage_quota_mb = 10
` });
  assert.equal((await d.ten(['spawn', 'files:a'])).code, 0);
  const auth = { authorization: `Bearer ${d.token}` };
  const events = async (): Promise<string[]> => {
    const r = await d.http('/api/logs?id=a&stream=event&limit=100', { headers: auth });
    return (JSON.parse(r.body) as Array<{ line: string }>).map((l) => l.line);
  };

  assert.equal((await d.http('/write?mb=9', { host: 'a.files.localhost', method: 'POST' })).status, 201);
  const warned = await waitFor(async () => (await events()).find((l) => l.startsWith('storage_warning: ')), 30_000, 'a storage warning');
  assert.match(warned, /over 80 % of storage_quota_mb \(10 MB\)/);
  assert.equal(JSON.parse((await d.ten(['ps', '--json'])).stdout)[0].state, 'running', 'a warning does not stop it');

  assert.equal((await d.http('/write?mb=2', { host: 'a.files.localhost', method: 'POST' })).status, 201);
  const exceeded = await waitFor(async () => (await events()).find((l) => l.startsWith('storage_exceeded: ')), 30_000, 'the quota to be exceeded');
  assert.match(exceeded, /storage_quota_mb is 10 MB: stopped and held until/);
  await waitFor(async () => (JSON.parse((await d.ten(['ps', '-a', '--json'])).stdout) as Array<{ state: string }>)[0]?.state === 'held', 15_000, 'the instance held');
});
