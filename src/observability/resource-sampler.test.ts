// The resource sampler on a real instance: memory and CPU of its process group from /proc, and its
// data dir's disk use counted as allocated blocks, the same number storage_quota_mb enforces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { instanceDataDir } from '../config/instance-env.js';
import { measureDirBytes } from '../runtime/disk-usage.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { ResourceSampler } from './resource-sampler.js';

const APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps');
const CONFIG = `[settings]\nport_range = [25000, 25999]\n\n[service.api]\ncommand = "node ${join(APPS, 'ok.mjs')}"\nhealth = "/health"\nstop_timeout = 2\n`;

test('an instance is sampled for memory, CPU and the disk its data dir really takes', async (t) => {
  const h = await startSupervisor(t, CONFIG);
  const info = await h.supervisor.spawn('api', 'a', { wait: true });
  const dataDir = instanceDataDir(h.supervisor.config.settings, 'api', 'a');
  // 64 MiB apparent, nothing allocated: a sparse file must not count against a quota.
  writeFileSync(join(dataDir, 'sparse.bin'), '');
  truncateSync(join(dataDir, 'sparse.bin'), 64 * 1024 * 1024);
  writeFileSync(join(dataDir, 'real.bin'), Buffer.alloc(256 * 1024, 1));
  const sampler = new ResourceSampler({ supervisor: h.supervisor, storageIntervalMs: 0 });
  t.after(() => sampler.close());
  await sampler.sample();
  const usage = sampler.usage('api:a');
  assert.ok(usage !== undefined);
  assert.equal(usage.pid, info.pid);
  assert.ok(usage.memoryBytes > 1024 * 1024, `a node process holds over 1 MiB RSS (got ${usage.memoryBytes})`);
  assert.ok(usage.cpuSeconds >= 0);
  assert.equal(usage.storageBytes, await measureDirBytes(dataDir));
  assert.ok(usage.storageBytes >= 256 * 1024 && usage.storageBytes < 8 * 1024 * 1024, `allocated bytes, not the sparse file's 64 MiB (got ${usage.storageBytes})`);
});
