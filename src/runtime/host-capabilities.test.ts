// `ten serve` says at start which isolation levels and limits this host gives, and why not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { detectCapabilities, formatCapabilities } from './host-capabilities.js';
import { SandboxRuntime } from './sandbox.js';

test('on this host (root, unshare, runsc, cgroups) every level and limit is available', async () => {
  const capabilities = await detectCapabilities();
  assert.deepEqual(capabilities.isolation, {
    process: { available: true },
    namespace: { available: true },
    sandbox: { available: true },
  });
  assert.ok(capabilities.limits.cgroup === 'v1' || capabilities.limits.cgroup === 'v2');
  assert.equal(capabilities.limits.memory && capabilities.limits.cpu && capabilities.limits.pids && capabilities.limits.freeze, true);
  assert.equal(
    formatCapabilities(capabilities),
    `isolation: process, namespace, sandbox\nlimits: cgroup ${capabilities.limits.cgroup} (memory, cpu, pids, freeze)`,
  );
});

test('a level the host cannot give is listed with the reason and the way to get it', async () => {
  const sandbox = new SandboxRuntime({ stateDir: tmpdir(), dataRoot: tmpdir(), runscPath: '/nonexistent/runsc' });
  const capabilities = await detectCapabilities({ runtimes: { sandbox } });
  assert.equal(capabilities.isolation.sandbox.available, false);
  assert.match(
    formatCapabilities(capabilities).split('\n')[0]!,
    /^isolation: process, namespace, sandbox unavailable \(sandbox isolation needs gVisor's runsc \(apt-get install runsc\), not found at \/nonexistent\/runsc\)$/,
  );
});

test('a host without cgroup controllers says limits will be refused', () => {
  const text = formatCapabilities({
    isolation: { process: { available: true }, namespace: { available: true }, sandbox: { available: true } },
    limits: { cgroup: null, memory: false, cpu: false, pids: false, freeze: false },
  });
  assert.equal(text.split('\n')[1], 'limits: none (no usable cgroup controllers; memory_limit_mb, cpu_shares and freeze_after will be refused)');
});
