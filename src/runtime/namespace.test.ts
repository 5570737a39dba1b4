// The namespace isolation level: the shared runtime contract, plus what a tenant must not see: other
// processes in /proc, a sibling's DATA_DIR, or the rest of tenement's data dir.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TenementError } from '../core/errors.js';
import { NamespaceRuntime } from './namespace.js';
import { runRuntimeContract } from './runtime.contract.js';
import type { RunningProcess } from './runtime.js';
import { freePort } from '../../test/helpers/net.js';
import { testCgroupLimits } from '../../test/helpers/cgroups.js';
import { testSpawnSpec } from '../../test/helpers/spawn-spec.js';

const PROBE_APP = fileURLToPath(new URL('../../test/fixtures/apps/iso-probe.mjs', import.meta.url));

const limits = testCgroupLimits('ns');
const contractRoot = mkdtempSync(join(tmpdir(), 'tenement-ns-contract-'));
after(() => rmSync(contractRoot, { recursive: true, force: true }));

runRuntimeContract('namespace', () => new NamespaceRuntime({ dataRoot: contractRoot, limits }), { childPidsVisible: false });

/** A tenement-like data dir: tenement.db and api_token at the top, `{service}/{id}` below. */
async function makeDataRoot(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tenement-ns-data-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'api_token'), 'the admin token');
  await writeFile(join(root, 'tenement.db'), 'the state store');
  return root;
}

/** Starts iso-probe as `notes:<id>` with DATA_DIR under `root`, and waits until it listens. */
async function startProbe(t: TestContext, runtime: NamespaceRuntime, root: string, id: string): Promise<{ url: string; dataDir: string; proc: RunningProcess }> {
  const dataDir = join(root, 'notes', id);
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, 'secret.txt'), `secret of ${id}`);
  const port = await freePort();
  let onListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  const lines: string[] = [];
  const spec = testSpawnSpec(`notes:${id}`, [process.execPath, PROBE_APP], {
    port,
    dataDir,
    onLine: (_stream, line) => {
      lines.push(line);
      if (line === `listening on ${port}`) onListening();
    },
  });
  const proc = await runtime.start(spec);
  t.after(() => proc.stop(1000));
  await Promise.race([
    listening,
    proc.exited.then((exit) => {
      throw new Error(`notes:${id} exited before listening: ${JSON.stringify(exit)} ${lines.join('\n')}`);
    }),
  ]);
  return { url: `http://127.0.0.1:${port}`, dataDir, proc };
}

async function ask(url: string, route: string, path = ''): Promise<unknown> {
  const response = await fetch(`${url}${route}?path=${encodeURIComponent(path)}`);
  return response.json();
}

test('a namespace instance counts only its own processes in /proc', async (t) => {
  const root = await makeDataRoot(t);
  const { url } = await startProbe(t, new NamespaceRuntime({ dataRoot: root }), root, 'alice');
  const pids = (await ask(url, '/pids')) as number[];
  // Its init (sh, pid 1) and the app itself; the host and other instances are invisible.
  assert.equal(pids.length, 2, `sees ${JSON.stringify(pids)}`);
  assert.ok(pids.includes(1));
});

test('a namespace instance cannot read or list a sibling DATA_DIR or the rest of the data dir, but owns its own', async (t) => {
  const root = await makeDataRoot(t);
  const runtime = new NamespaceRuntime({ dataRoot: root });
  const alice = await startProbe(t, runtime, root, 'alice');
  const bob = await startProbe(t, runtime, root, 'bob');

  assert.deepEqual(await ask(alice.url, '/list', root), { entries: ['notes'] }, 'no api_token, no tenement.db');
  assert.deepEqual(await ask(alice.url, '/list', join(root, 'notes')), { entries: ['alice'] });
  assert.deepEqual(await ask(alice.url, '/list', bob.dataDir), { error: 'ENOENT' });
  assert.deepEqual(await ask(alice.url, '/read', join(bob.dataDir, 'secret.txt')), { error: 'ENOENT' });
  assert.deepEqual(await ask(alice.url, '/read', join(root, 'api_token')), { error: 'ENOENT' });
  assert.deepEqual(await ask(bob.url, '/read', join(alice.dataDir, 'secret.txt')), { error: 'ENOENT' });

  assert.deepEqual(await ask(alice.url, '/read', join(alice.dataDir, 'secret.txt')), { content: 'secret of alice' });
  assert.deepEqual(await ask(alice.url, '/write', join(alice.dataDir, 'note.txt')), { ok: true });
  assert.equal(await readFile(join(alice.dataDir, 'note.txt'), 'utf8'), 'written', 'the host sees what it wrote');
  assert.deepEqual(await ask(alice.url, '/write', join(root, 'planted.txt')), { error: 'EROFS' });
});

test('a namespace instance has its own hostname, <id>.<service>', async (t) => {
  const root = await makeDataRoot(t);
  const { url } = await startProbe(t, new NamespaceRuntime({ dataRoot: root }), root, 'carol');
  const kernel = (await ask(url, '/kernel')) as { hostname: string };
  assert.equal(kernel.hostname, 'carol.notes');
});

test('DATA_DIR outside the data dir stays usable while the data dir is hidden', async (t) => {
  const root = await makeDataRoot(t);
  const elsewhere = await mkdtemp(join(tmpdir(), 'tenement-ns-elsewhere-'));
  t.after(() => rm(elsewhere, { recursive: true, force: true }));
  mkdirSync(join(elsewhere, 'notes'));
  const { url, dataDir } = await startProbe(t, new NamespaceRuntime({ dataRoot: root }), elsewhere, 'dave');
  assert.deepEqual(await ask(url, '/read', join(dataDir, 'secret.txt')), { content: 'secret of dave' });
  assert.deepEqual(await ask(url, '/list', root), { entries: [] });
});

test('without unshare, namespace isolation is refused, saying what is missing and how to get it', async () => {
  const runtime = new NamespaceRuntime({ dataRoot: tmpdir(), unsharePath: '/nonexistent/unshare' });
  await assert.rejects(runtime.check({ memoryLimitMb: undefined, cpuShares: undefined }), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'isolation_unavailable');
    assert.equal(err.message, 'namespace isolation is unavailable: it needs util-linux unshare, not found at "/nonexistent/unshare" (apt-get install util-linux)');
    return true;
  });
});

test('a memory limit on a namespace runtime without cgroups is refused, not silently dropped', async () => {
  const runtime = new NamespaceRuntime({ dataRoot: tmpdir() });
  await assert.rejects(runtime.check({ memoryLimitMb: 64, cpuShares: undefined }), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'isolation_unavailable');
    return true;
  });
});
