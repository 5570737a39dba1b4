// `npm test` on a machine without what the tests need: the first thing it prints (after npm's
// echo of the script) names what is missing and the command that installs it, and no test runs.
// A PATH holding only node and sh stands in for a fresh machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, tempDir } from '../helpers/daemon.js';

const CHECK = join(ROOT, 'scripts/check-test-deps.mjs');
const NPM_CLI = join(dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js');

interface Run { code: number | null; stdout: string; stderr: string }

function run(command: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: unknown }).code as number | null, stdout, stderr });
    });
  });
}

/** A folder of symlinks to the named programs, found on the real PATH. */
function binWith(dir: string, programs: readonly string[]): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const program of programs) {
    const real = (process.env.PATH ?? '').split(':').map((d) => join(d, program)).find((p) => existsSync(p));
    assert.ok(real !== undefined, `${program} is on this machine's PATH`);
    symlinkSync(real, join(bin, program));
  }
  return bin;
}

test('npm test without the tools the tests run says so first, with the install command', async (t) => {
  const bin = binWith(tempDir(t), ['node', 'sh']);
  const r = await run(process.execPath, [NPM_CLI, 'test'], { PATH: bin });
  assert.notEqual(r.code, 0);
  const [first, hint] = r.stderr.split('\n');
  assert.equal(first, 'error: npm test needs runsc (sandbox tests), promtool (metrics test), chromium (dashboard test), '
    + 'unshare (namespace tests), pebble (HTTPS tests), pebble-challtestsrv (HTTPS tests), openssl (HTTPS tests), '
    + 'caddy (ten caddy test) and systemd-analyze (ten install test), which this machine lacks');
  assert.equal(hint, 'hint: run `apt-get update && apt-get install -y runsc prometheus chromium util-linux pebble openssl caddy systemd` '
    + '(Debian 12), or `sudo bash .ci/run`, which installs what the tests need and runs them as CI does');
  assert.doesNotMatch(r.stdout, /> tenement@[\d.]+ test\n/, 'the tests themselves did not start');
});

test('only what is missing is named and installed', async (t) => {
  const bin = binWith(tempDir(t), ['node', 'runsc', 'chromium', 'unshare', 'pebble', 'pebble-challtestsrv', 'openssl', 'caddy', 'systemd-analyze']);
  const r = await run(process.execPath, [CHECK], { PATH: bin });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.split('\n')[0], 'error: npm test needs promtool (metrics test), which this machine lacks');
  assert.match(r.stderr, /`apt-get update && apt-get install -y prometheus`/);
});

test('as a user other than root, it says to run as root', async (t) => {
  // A copy that user can read wherever this clone lives.
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  copyFileSync(CHECK, join(dir, 'check.mjs'));
  const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(dir, 'check.mjs')], {});
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: npm test must run as root (namespace, sandbox and cgroup tests)\n' +
    'hint: run `sudo npm test`, or `sudo bash .ci/run`, which installs what the tests need and runs them as CI does\n');
});

test('on a machine with everything, it is silent', async () => {
  const r = await run(process.execPath, [CHECK], {});
  assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
});
