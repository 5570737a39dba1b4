// The sandbox isolation level: the shared runtime contract under gVisor, plus proof the app runs on
// gVisor's kernel, sees a read-only root and only its own DATA_DIR, is OOM-killed over its memory
// limit, and that a crashed server's containers are cleaned up.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TenementError } from '../core/errors.js';
import { runRuntimeContract } from './runtime.contract.js';
import type { RunningProcess } from './runtime.js';
import { SandboxRuntime } from './sandbox.js';
import { freePort } from '../../test/helpers/net.js';
import { testCgroupLimits } from '../../test/helpers/cgroups.js';
import { testSpawnSpec, type TestSpawnOptions } from '../../test/helpers/spawn-spec.js';

const APPS = fileURLToPath(new URL('../../test/fixtures/apps/', import.meta.url));

const limits = testCgroupLimits('sandbox');
const contractRoot = mkdtempSync(join(tmpdir(), 'tenement-sandbox-contract-'));
after(() => rmSync(contractRoot, { recursive: true, force: true }));

runRuntimeContract(
  'sandbox',
  () => new SandboxRuntime({ stateDir: join(contractRoot, '.sandbox'), dataRoot: contractRoot, limits }),
  { childPidsVisible: false, readyTimeoutMs: 20_000 },
);

/** A tenement-like data dir (api_token at the top, `{service}/{id}` below) and a runtime on it. */
async function makeRuntime(t: TestContext): Promise<{ root: string; runtime: SandboxRuntime }> {
  const root = await mkdtemp(join(tmpdir(), 'tenement-sandbox-data-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'api_token'), 'the admin token');
  return { root, runtime: new SandboxRuntime({ stateDir: join(root, '.sandbox'), dataRoot: root, limits }) };
}

interface Started {
  readonly url: string;
  readonly dataDir: string;
  readonly proc: RunningProcess;
  readonly lines: string[];
}

/** Starts a fixture app as `notes:<id>` and waits until it listens (or exits first). */
async function startApp(
  t: TestContext,
  runtime: SandboxRuntime,
  root: string,
  id: string,
  app = 'iso-probe',
  overrides: TestSpawnOptions = {},
): Promise<Started> {
  const dataDir = join(root, 'notes', id);
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, 'secret.txt'), `secret of ${id}`);
  const port = await freePort();
  let onListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  const lines: string[] = [];
  const proc = await runtime.start(testSpawnSpec(`notes:${id}`, [process.execPath, join(APPS, `${app}.mjs`)], {
    cwd: APPS,
    port,
    dataDir,
    onLine: (_stream, line) => {
      lines.push(line);
      if (line === `listening on ${port}`) onListening();
    },
    ...overrides,
  }));
  t.after(() => proc.stop(1000));
  // An app killed before it listens (the OOM test) is the caller's to judge.
  await Promise.race([listening, proc.exited]);
  return { url: `http://127.0.0.1:${port}`, dataDir, proc, lines };
}

async function ask(url: string, route: string, path = ''): Promise<unknown> {
  return (await fetch(`${url}${route}?path=${encodeURIComponent(path)}`)).json();
}

test('a sandbox instance serves HTTP on 127.0.0.1:PORT and runs on gVisor’s kernel, not the host’s', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const { url } = await startApp(t, runtime, root, 'alice');
  const kernel = (await ask(url, '/kernel')) as { procVersion: string; dmesg: string; hostname: string };
  // gVisor's sentry implements syslog(2) itself; its boot log is its signature.
  assert.match(kernel.dmesg, /Starting gVisor/);
  assert.notEqual(kernel.procVersion, await readFile('/proc/version', 'utf8'), 'the app does not see the host kernel');
  assert.equal(kernel.hostname, 'alice.notes');
});

test('a sandbox instance has a read-only root and a writable DATA_DIR, and cannot see a sibling’s', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const alice = await startApp(t, runtime, root, 'alice');
  const bob = await startApp(t, runtime, root, 'bob');

  assert.deepEqual(await ask(alice.url, '/write', '/etc/tenement-sandbox-test'), { error: 'EROFS' });
  assert.deepEqual(await ask(alice.url, '/write', join(alice.dataDir, 'note.txt')), { ok: true });
  assert.equal(await readFile(join(alice.dataDir, 'note.txt'), 'utf8'), 'written', 'the host sees what it wrote');
  assert.deepEqual(await ask(alice.url, '/list', root), { entries: ['notes'] }, 'no api_token, no bundles');
  assert.deepEqual(await ask(alice.url, '/read', join(bob.dataDir, 'secret.txt')), { error: 'ENOENT' });
  assert.deepEqual(await ask(bob.url, '/list', alice.dataDir), { error: 'ENOENT' });
  assert.deepEqual(await ask(bob.url, '/read', join(bob.dataDir, 'secret.txt')), { content: 'secret of bob' });
});

test('a change the host makes in DATA_DIR while the sandbox runs is seen by the app at once', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const alice = await startApp(t, runtime, root, 'alice');
  assert.deepEqual(await ask(alice.url, '/read', join(alice.dataDir, 'secret.txt')), { content: 'secret of alice' });
  assert.deepEqual(await ask(alice.url, '/list', alice.dataDir), { entries: ['secret.txt'] });
  // gVisor caches the read-only host folders it shows; DATA_DIR it must ask the host again.
  await writeFile(join(alice.dataDir, 'secret.txt'), 'rotated by the operator, and longer');
  await writeFile(join(alice.dataDir, 'upload.txt'), 'put there by the host');
  assert.deepEqual(await ask(alice.url, '/read', join(alice.dataDir, 'secret.txt')), { content: 'rotated by the operator, and longer' });
  const { entries } = (await ask(alice.url, '/list', alice.dataDir)) as { entries: string[] };
  assert.deepEqual(entries.sort(), ['secret.txt', 'upload.txt']);
  assert.deepEqual(await ask(alice.url, '/read', join(alice.dataDir, 'upload.txt')), { content: 'put there by the host' });
});

test('a sandbox whose workdir is /tmp still gets a private, writable /tmp and none of the host’s', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const hostFile = await mkdtemp(join(tmpdir(), 'tenement-host-tmp-'));
  t.after(() => rm(hostFile, { recursive: true, force: true }));
  const alice = await startApp(t, runtime, root, 'alice', 'iso-probe', { cwd: '/tmp' });
  assert.deepEqual(await ask(alice.url, '/list', hostFile), { error: 'ENOENT' });
  assert.deepEqual(await ask(alice.url, '/write', '/tmp/scratch.txt'), { ok: true });
  // Only the paths to what the sandbox mounts (its DATA_DIR, and the app's folder when the checkout
  // itself is under /tmp) are made in its own /tmp.
  const mountedUnderTmp = [root, APPS].filter((path) => path.startsWith('/tmp/')).map((path) => path.split('/')[2]!);
  const { entries } = (await ask(alice.url, '/list', '/tmp')) as { entries: string[] };
  assert.deepEqual(entries.sort(), [...new Set(mountedUnderTmp), 'scratch.txt'].sort());
});

test('a sandboxed app allocating 4x its memory_limit_mb is OOM-killed and reported', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const started = await startApp(t, runtime, root, 'hog', 'iso-alloc', { memoryLimitMb: 160, extraEnv: { ALLOC_MB: '640' } });
  const exit = await started.proc.exited;
  assert.equal(exit.oomKilled, true);
  assert.ok(!started.lines.includes('allocated 640 MB'));
});

test('containers a crashed server left behind are killed and deleted when the next one starts', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const crashed = await startApp(t, runtime, root, 'left');
  const next = new SandboxRuntime({ stateDir: join(root, '.sandbox'), dataRoot: root });
  assert.deepEqual(await next.cleanLeftovers(), ['tenement.notes.left']);
  // The old server's sandbox is gone: its runsc run ends.
  await crashed.proc.exited;
  assert.deepEqual(await next.cleanLeftovers(), []);
});

test('a container a crashed server left frozen is thawed, then killed and deleted', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const crashed = await startApp(t, runtime, root, 'cold', 'iso-probe', { freezable: true });
  await crashed.proc.cgroup!.freeze();
  const next = new SandboxRuntime({ stateDir: join(root, '.sandbox'), dataRoot: root, limits });
  assert.deepEqual(await next.cleanLeftovers(), ['tenement.notes.cold']);
  await crashed.proc.exited;
  assert.deepEqual(await next.cleanLeftovers(), []);
});

test('a sandbox left frozen is adopted frozen (runsc, which a frozen sandbox does not answer, is not asked) and its stop ends it', async (t) => {
  const { root, runtime } = await makeRuntime(t);
  const left = await startApp(t, runtime, root, 'asleep', 'iso-probe', { freezable: true });
  await left.proc.cgroup!.freeze();
  const next = new SandboxRuntime({ stateDir: join(root, '.sandbox'), dataRoot: root, limits });
  const adoption = await next.adopt({ instance: 'notes:asleep', pid: left.proc.pid, startTime: left.proc.startTime });
  assert.ok(!('refused' in adoption), JSON.stringify(adoption));
  assert.equal(adoption.frozen, true);
  assert.deepEqual(await next.cleanLeftovers(), [], 'an adopted sandbox is no leftover');
  await adoption.proc.stop(2000);
  await left.proc.exited;
});

test('sandbox isolation without runsc is refused, saying what is missing and how to get it', async () => {
  const runtime = new SandboxRuntime({ stateDir: tmpdir(), dataRoot: tmpdir(), runscPath: '/nonexistent/runsc' });
  await assert.rejects(runtime.check({ memoryLimitMb: undefined, cpuShares: undefined }), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'isolation_unavailable');
    assert.equal(err.message, "sandbox isolation needs gVisor's runsc (apt-get install runsc), not found at /nonexistent/runsc");
    return true;
  });
});
