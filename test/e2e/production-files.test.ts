// `ten install --dry-run` and `ten caddy` write files their tools accept (systemd-analyze verify,
// caddy validate), and the Caddy `ask` endpoint answers 200 only for names that route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTen, startDaemon, tempDir } from '../helpers/daemon.js';

function run(command: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const CONFIG = `
[settings]
data_dir = "./state"

[service.notes]
command = "node {apps}/proxy-app.mjs"
stop_timeout = 25

[instances]
notes = ["alice"]
`;

test('ten install --dry-run prints a service and a socket unit systemd-analyze verify accepts, for this config and data dir', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'tenement.toml');
  writeFileSync(config, CONFIG);
  const result = await runTen(['--config', config, 'install', '--dry-run', '--domain', 'Example.COM'], {}, dir);
  assert.equal(result.code, 0, result.stderr);
  // Two files: the service, and the socket that keeps the port open across restarts.
  const [serviceText, socketText] = result.stdout.split(/^# \/etc\/systemd\/system\/tenement\.socket\n/m);
  const [header, ...rest] = serviceText!.split('\n');
  assert.equal(header, '# /etc/systemd/system/tenement.service');
  const unit = rest.join('\n');
  assert.ok(unit.split('\n').includes('Requires=tenement.socket'));
  assert.ok(socketText!.split('\n').includes('ListenStream=127.0.0.1:8080'));
  writeFileSync(join(dir, 'tenement.socket'), socketText!);
  assert.match(unit, new RegExp(`^ExecStart=${process.execPath} \\S+/bin/ten --config ${config} --data-dir ${join(dir, 'state')} serve --domain example\\.com$`, 'm'));
  for (const line of ['Restart=on-failure', 'KillMode=process', 'Delegate=yes', 'TimeoutStopSec=55', `ReadWritePaths=${join(dir, 'state')}`]) {
    assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
  }
  const file = join(dir, 'tenement.service');
  writeFileSync(file, unit);
  const verified = await run('systemd-analyze', ['verify', join(dir, 'tenement.socket'), file]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal(verified.stderr.split('\n').filter((l) => l.includes(dir)).join('\n'), '', 'no warning about the units');

  // With TLS on, tenement is the front door: it listens on every address, not only loopback.
  writeFileSync(config, `${CONFIG}\n[settings.tls]\nenabled = true\ndomain = "example.com"\n`);
  const front = await runTen(['--config', config, 'install', '--dry-run'], {}, dir);
  assert.match(front.stdout, / serve --bind 0\.0\.0\.0$/m);
  assert.doesNotMatch(result.stdout, /--bind/);
  // Both its ports are the socket unit's then, HTTP first: restarts keep them open too.
  const [frontUnit, frontSocket] = front.stdout.split(/^# \/etc\/systemd\/system\/tenement\.socket\n/m);
  assert.deepEqual(frontSocket!.split('\n').filter((l) => l.startsWith('ListenStream=')), ['ListenStream=0.0.0.0:80', 'ListenStream=0.0.0.0:443']);
  writeFileSync(join(dir, 'tenement.socket'), frontSocket!);
  writeFileSync(file, frontUnit!.split('\n').slice(1).join('\n'));
  const frontVerified = await run('systemd-analyze', ['verify', join(dir, 'tenement.socket'), file]);
  assert.equal(frontVerified.code, 0, frontVerified.stderr);

  // The same check does notice a broken directive: its silence above means something.
  writeFileSync(file, unit.replace('KillMode=process', 'KillMode=sometimes'));
  assert.match((await run('systemd-analyze', ['verify', file])).stderr, /kill mode/i);
});

test('ten install refuses a missing config or a bad domain with exit 2', async (t) => {
  const dir = tempDir(t);
  const missing = await runTen(['--config', join(dir, 'none.toml'), 'install', '--dry-run'], {}, dir);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: no config file at .*none\.toml\nhint: run `ten init` first/);
  writeFileSync(join(dir, 'tenement.toml'), CONFIG);
  const bad = await runTen(['install', '--dry-run', '--domain', 'exa mple.com'], {}, dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: invalid domain "exa mple\.com"/);
});

test('ten caddy writes a Caddyfile caddy validate accepts, asking tenement before each certificate', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'Caddyfile');
  const result = await runTen(['--server', 'http://127.0.0.1:8123', 'caddy', '--domain', 'example.com', '--output', file], {}, dir);
  assert.equal(result.code, 0, result.stderr);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /ask http:\/\/127\.0\.0\.1:8123\/api\/tls\/ask/);
  assert.match(text, /reverse_proxy 127\.0\.0\.1:8123/);
  assert.match(text, /^example\.com, \*\.example\.com, \*\.\*\.example\.com \{$/m);
  const validated = await run('caddy', ['validate', '--config', file, '--adapter', 'caddyfile']);
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stdout + validated.stderr, /Valid configuration/);

  const printed = await runTen(['caddy', '--domain', 'example.com'], {}, dir);
  assert.equal(printed.code, 0);
  assert.match(printed.stdout, /ask http:\/\/127\.0\.0\.1:8080\/api\/tls\/ask/);
  const bad = await runTen(['caddy', '--domain', 'bad_domain!'], {}, dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: invalid domain/);
});

test('the ask endpoint answers 200 only for names that route, without a token', async (t) => {
  const d = await startDaemon(t, { config: CONFIG.replace('data_dir = "./state"', ''), domain: 'example.test' });
  const ask = async (name: string) => (await d.http(`/api/tls/ask?domain=${encodeURIComponent(name)}`, { host: '127.0.0.1' })).status;
  for (const name of ['example.test', 'notes.example.test', 'alice.notes.example.test', 'ALICE.notes.example.test']) assert.equal(await ask(name), 200, name);
  for (const name of ['bob.notes.example.test', 'other.example.test', 'evil.com', 'localhost', '127.0.0.1', 'a.b.notes.example.test']) assert.equal(await ask(name), 404, name);
  assert.equal((await d.http('/api/tls/ask', { host: '127.0.0.1' })).status, 400);
  // A name registered later routes from then on.
  assert.equal((await d.ten(['spawn', 'notes:bob', '--no-wait'])).code, 0);
  assert.equal(await ask('bob.notes.example.test'), 200);
});
