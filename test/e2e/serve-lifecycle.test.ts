// `ten serve` as a user runs it: a bad config stops it before it binds, SIGTERM stops every
// instance and exits 0, and a SIGKILLed server's instances are neither lost nor duplicated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { APPS, TEN, isAlive, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';

const CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
stop_timeout = 2

[service.family]
command = "node {apps}/fork-grandchild.mjs"
stop_timeout = 2

[instances]
notes = ["alice", "bob"]
`;

function pidsOf(d: { ten(args: readonly string[]): Promise<{ stdout: string }> }): Promise<Array<{ instance: string; pid: number | null; state: string }>> {
  return d.ten(['ps', '-a', '--json']).then((r) => JSON.parse(r.stdout) as Array<{ instance: string; pid: number | null; state: string }>);
}

/** Processes whose environment names this instance (TENEMENT_INSTANCE), wherever they came from. */
function processesOf(instance: string, dataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (env.includes(`TENEMENT_INSTANCE=${instance}\0`) && env.includes(`DATA_DIR=${dataDir}`) && isAlive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('a bad config stops ten serve before it binds, naming the key, exit 2', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'tenement.toml');
  writeFileSync(file, '[service.api]\ncommand = "node app.js"\nisolation = "vm"\n');
  const port = 18000 + Math.floor(Math.random() * 1000);
  const child = spawn(process.execPath, [TEN, 'serve', '--config', file, '--port', String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  assert.equal(code, 2);
  assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
  assert.match(stderr, /^error: tenement\.toml: service\.api\.isolation: "vm" is not allowed/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  // Nothing was bound: the port is still free.
  const probe = spawn(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', function () { this.close(); })`]);
  assert.equal(await new Promise((res) => probe.once('exit', res)), 0);
});

test('a port already in use is one coded line and exit 1', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'tenement.toml');
  writeFileSync(file, '[service.api]\ncommand = "node app.js"\n');
  const taken = createServer();
  await new Promise<void>((res) => taken.listen(0, '127.0.0.1', res));
  t.after(() => taken.close());
  const { port } = taken.address() as AddressInfo;
  const child = spawn(process.execPath, [TEN, 'serve', '--config', file, '--data-dir', join(dir, 'data'), '--port', String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  assert.equal(code, 1);
  assert.equal(stderr, `error: port ${port} on 127.0.0.1 is already in use\nhint: choose another with --port\n`);
});

test('SIGTERM stops every instance, grandchildren included, and exits 0', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  await waitFor(async () => (await pidsOf(d)).filter((i) => i.state === 'running').length === 2, 15_000, 'alice and bob running');
  const spawned = await d.ten(['spawn', 'family:one']);
  assert.equal(spawned.code, 0, spawned.stderr);
  const grandchild = processesOf('family:one', join(d.dataDir, 'family', 'one'));
  assert.ok(grandchild.length >= 2, 'the app and its forked child run');
  const pids = (await pidsOf(d)).map((i) => i.pid).filter((p): p is number => p !== null);
  assert.equal(pids.length, 3);

  assert.equal(await d.stop(), 0);
  assert.match(d.output(), /tenement stopped/);
  for (const pid of [...pids, ...grandchild]) assert.ok(!isAlive(pid), `process ${pid} outlived the server`);
});

test('after a SIGKILL of the server, a restart brings registrations back without duplicate processes', async (t) => {
  const first = await startDaemon(t, { config: CONFIG });
  await waitFor(async () => (await pidsOf(first)).filter((i) => i.state === 'running').length === 2, 15_000, 'alice and bob running');
  assert.equal((await first.ten(['spawn', 'notes:carol', '--weight', '40'])).code, 0);
  assert.equal((await first.ten(['stop', 'notes:bob'])).code, 0);
  const before = await pidsOf(first);
  await first.crash();

  const second = await startDaemon(t, { config: CONFIG, dir: first.dir });
  const after = await waitFor(async () => {
    const list = await pidsOf(second);
    return list.filter((i) => i.state === 'running').length === 2 ? list : undefined;
  }, 15_000, 'alice and carol running again');
  assert.deepEqual(after.map((i) => `${i.instance} ${i.state}`), ['notes:alice running', 'notes:bob stopped', 'notes:carol running']);
  const carol = JSON.parse((await second.ten(['ps', '--json'])).stdout) as Array<{ instance: string; weight: number }>;
  assert.equal(carol.find((i) => i.instance === 'notes:carol')?.weight, 40);
  for (const old of before) if (old.pid !== null) assert.ok(!isAlive(old.pid), `${old.instance}'s old process ${old.pid} survived`);
  for (const name of ['notes:alice', 'notes:carol']) {
    const id = name.split(':')[1]!;
    assert.equal(processesOf(name, join(second.dataDir, 'notes', id)).length, 1, `exactly one process for ${name}`);
  }
});

test('the bundled example config loads (npm start uses it)', async (t) => {
  const d = await startDaemon(t, { config: readFileSync(join(APPS, '../../../examples/notes/tenement.toml'), 'utf8').replace('node app.mjs', `node ${join(APPS, '../../../examples/notes/app.mjs')}`) });
  await waitFor(async () => (await d.http('/', { host: 'alice.notes.localhost' })).status === 200, 15_000, 'alice answering');
  const saved = await d.http('/', { host: 'alice.notes.localhost', method: 'POST', body: 'buy milk' });
  assert.equal(saved.status, 201);
  assert.match((await d.http('/', { host: 'alice.notes.localhost' })).body, /buy milk/);
  assert.doesNotMatch((await d.http('/', { host: 'bob.notes.localhost' })).body, /buy milk/, 'tenants have their own data');
});
