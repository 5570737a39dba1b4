// A plain `ten ps` on the machine where `ten serve` runs finds the server and its token by itself
// (like `docker ps`), through the per-user record the server writes; explicit options and env
// still win, several servers make it ask, and the record goes away with the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, TEN, tempDir, waitFor, type CliResult } from '../helpers/daemon.js';

const CONFIG = '[service.notes]\ncommand = "node {apps}/ok.mjs"\nhealth = "/health"\n';

/** `ten` as a user would type it: no TENEMENT_* variables, only the runtime dir of this test. */
function ten(args: readonly string[], runtimeDir: string, cwd: string): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TENEMENT_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [TEN, ...args], { cwd, env: { ...env, XDG_RUNTIME_DIR: runtimeDir }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: unknown }).code as number | null, stdout, stderr });
    });
  });
}

test('ten finds the local server by itself', async (t) => {
  const work = tempDir(t, 'tenement-local-');
  const runtimeDir = join(work, 'run');
  const elsewhere = join(work, 'elsewhere');
  mkdirSync(runtimeDir, { mode: 0o700 });
  mkdirSync(elsewhere);
  const first = await startDaemon(t, { config: CONFIG, env: { XDG_RUNTIME_DIR: runtimeDir } });
  const recordDir = join(runtimeDir, 'tenement');

  await t.test('the record is private and holds no token', async () => {
    const [name, ...more] = readdirSync(recordDir);
    assert.deepEqual(more, []);
    assert.equal(statSync(recordDir).mode & 0o777, 0o700);
    const file = join(recordDir, name!);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(first.token), 'the token itself is not in the record');
    assert.deepEqual(JSON.parse(text), {
      url: first.url, tokenFile: join(first.dataDir, 'api_token'), dataDir: first.dataDir,
      pid: first.proc.pid, startedAt: (JSON.parse(text) as { startedAt: string }).startedAt,
    });
    await waitFor(() => /manage it with: .*ten ps \(on this machine ten finds this server by itself\)/.test(first.output()), 20_000, 'the hint to use a plain ten ps');
  });

  await t.test('spawn and ps with no --server, --token or --data-dir', async () => {
    const spawned = await ten(['spawn', 'notes:alice'], runtimeDir, elsewhere);
    assert.equal(spawned.code, 0, spawned.stderr);
    const ps = await ten(['ps'], runtimeDir, elsewhere);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^notes:alice\s+running\s+healthy/m);
  });

  const second = await startDaemon(t, { config: CONFIG, env: { XDG_RUNTIME_DIR: runtimeDir } });

  await t.test('with two servers, ten asks which one, unless the data dir says it', async () => {
    const ambiguous = await ten(['ps'], runtimeDir, elsewhere);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /^error: 2 tenement servers run on this machine \(.*\): say which\nhint: pass --server URL or --data-dir DIR/);
    // The folder of the first server's tenement.toml (its data dir is ./data there), or --data-dir.
    const inFirst = await ten(['ps'], runtimeDir, first.dir);
    assert.match(inFirst.stdout, /^notes:alice/m);
    const bySecondDataDir = await ten(['--data-dir', second.dataDir, 'ps'], runtimeDir, elsewhere);
    assert.equal(bySecondDataDir.code, 0, bySecondDataDir.stderr);
    assert.match(bySecondDataDir.stdout, /^no instances registered/);
  });

  await t.test('--server and TENEMENT_SERVER win over the record', async () => {
    const explicit = await ten(['--server', second.url, '--token', second.token, 'ps'], runtimeDir, first.dir);
    assert.match(explicit.stdout, /^no instances registered/);
  });

  await t.test('a clean stop removes the record; a crashed server\'s record is ignored', async () => {
    await second.stop();
    assert.equal(readdirSync(recordDir).length, 1);
    const third = await startDaemon(t, { config: CONFIG, env: { XDG_RUNTIME_DIR: runtimeDir } });
    await third.crash();
    const ps = await ten(['ps'], runtimeDir, elsewhere);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^notes:alice/m, 'the only live server is used');
    assert.deepEqual(readdirSync(recordDir), [`server-${first.proc.pid}.json`]);
  });
});
