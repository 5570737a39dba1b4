// Everyday `ten` commands as a subprocess against a real server: what they print (non-TTY) and
// their exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { runTen, startDaemon, tempDir } from '../helpers/daemon.js';

const CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
`;

test('the everyday commands print what the README shows', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });

  await t.test('spawn on a non-TTY prints plain lines and the URL', async () => {
    const r = await d.ten(['spawn', 'notes:alice']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'spawning notes:alice');
    assert.match(lines.at(-2) ?? '', /^notes:alice is healthy \(\d+\.\ds\)$/);
    assert.equal(lines.at(-1), `http://alice.notes.localhost:${d.port}/`);
    assert.ok(!r.stdout.includes(String.fromCharCode(27)), 'no terminal escapes off a TTY');
    const two = await d.ten(['spawn', 'notes', '--id', 'bob', '--weight', '10', '--no-wait']);
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stdout, /^spawned notes:bob \((starting|running)\)\nhttp:\/\/bob\.notes\.localhost:\d+\/\n$/);
  });

  await t.test('spawning it again is a conflict (exit 1)', async () => {
    const r = await d.ten(['spawn', 'notes:alice']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: notes:alice is already running\n/);
  });

  await t.test('ps prints the documented columns; --json parses', async () => {
    await d.ten(['start', 'notes:bob']);
    const table = await d.ten(['ps']);
    assert.equal(table.code, 0, table.stderr);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    assert.deepEqual(header?.split(/\s+/), ['INSTANCE', 'STATE', 'HEALTH', 'PORT', 'PID', 'UPTIME', 'IDLE', 'WEIGHT', 'RESTARTS']);
    assert.match(rows.find((r) => r.startsWith('notes:alice')) ?? '', /^notes:alice\s+running\s+healthy\s+\d+\s+\d+\s+\d+[smhd]\s+\S+\s+100\s+0$/);
    const json = await d.ten(['ps', '--json']);
    const list = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(list[0]!).sort(), ['health', 'health_check_status', 'id', 'idle_s', 'instance', 'isolation', 'pid', 'port', 'restarts', 'service', 'state', 'uptime_s', 'weight']);
  });

  await t.test('health, weight, stop --hold, ps -a, start, restart, rm', async () => {
    assert.equal((await d.ten(['health', 'notes:alice'])).stdout, 'healthy\n');
    assert.equal((await d.ten(['weight', 'notes:alice', '50'])).stdout, 'notes:alice weight 50\n');
    const held = await d.ten(['stop', 'notes:bob', '--hold']);
    assert.equal(held.stdout, 'held notes:bob (requests get 503 until `ten start notes:bob`)\n');
    assert.match((await d.ten(['ps'])).stdout, /notes:bob\s+held\s+stopped/);
    assert.equal((await d.ten(['health', 'notes:bob'])).stdout, 'stopped\n');
    const stopped = await d.ten(['stop', 'notes:bob']);
    assert.equal(stopped.stdout, 'stopped notes:bob\n');
    assert.doesNotMatch((await d.ten(['ps'])).stdout, /notes:bob/);
    assert.match((await d.ten(['ps', '-a'])).stdout, /notes:bob\s+stopped/);
    const started = await d.ten(['start', 'notes:bob']);
    assert.match(started.stdout, /notes:bob is healthy \(\d+\.\ds\)\n$/);
    const restarted = await d.ten(['restart', 'notes:bob']);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(restarted.stdout, /notes:bob is healthy/);
    assert.equal((await d.ten(['rm', 'notes:bob'])).stdout, 'removed notes:bob (data kept; --purge deletes it)\n');
  });

  await t.test('config shows the loaded services', async () => {
    const r = await d.ten(['config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[service\.notes\]\n {2}command +node .*ok\.mjs\n/);
    assert.match(r.stdout, /\n {2}health +\/health\n/);
    const json = JSON.parse((await d.ten(['config', '--json'])).stdout) as Array<{ name: string }>;
    assert.deepEqual(json.map((s) => s.name), ['notes']);
  });

  await t.test('deploy and route, both spellings', async () => {
    const one = await d.ten(['deploy', 'notes:v1']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /deployed notes:v1: healthy, weight 100 \(\d+\.\ds\)\n$/);
    const two = await d.ten(['deploy', 'notes', '--version', 'v2', '--weight', '0', '--timeout', '20']);
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stdout, /deployed notes:v2: healthy, weight 0/);
    const route = await d.ten(['route', 'notes', '--from', 'v1', '--to', 'v2']);
    assert.equal(route.stdout, 'notes: notes:v1 weight 0, notes:v2 weight 100\n');
  });

  await t.test('global options go before the command; the token file is found through --data-dir', async () => {
    const r = await runTen(['--server', d.url, '--data-dir', d.dataDir, 'health', 'notes:alice'], { TENEMENT_TOKEN: '', TENEMENT_SERVER: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'healthy\n');
  });
});

test('ten spawn is one HTTP call whose answer carries the outcome and the URL', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  // A recording forwarder between the CLI and the server: every request the CLI makes passes it.
  const seen: string[] = [];
  const recorder = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const upstream = request({ host: '127.0.0.1', port: d.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => recorder.close(() => resolve())));
  const via = { TENEMENT_SERVER: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}` };

  const r = await d.ten(['spawn', 'notes:carol'], via);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(seen, ['POST /api/instances']);
  assert.equal(r.stdout.trimEnd().split('\n').at(-1), `http://carol.notes.localhost:${d.port}/`, 'the URL names the port the server was reached on');
  seen.length = 0;
  const quick = await d.ten(['spawn', 'notes:dave', '--no-wait'], via);
  assert.equal(quick.code, 0, quick.stderr);
  assert.deepEqual(seen, ['POST /api/instances']);
  assert.match(quick.stdout, new RegExp(`^spawned notes:dave \\((starting|running)\\)\nhttp://dave\\.notes\\.localhost:${d.port}/\n$`));
});

test('token-gen works with the server stopped and prints the token alone, indented', async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const admin = await runTen(['--data-dir', dataDir, 'token-gen']);
  assert.equal(admin.code, 0, admin.stderr);
  assert.match(admin.stdout, /^ {2}tnm_[A-Za-z0-9_-]{43}\n$/);
  assert.equal(readFileSync(join(dataDir, 'api_token'), 'utf8').trim(), admin.stdout.trim());
  assert.equal(statSync(join(dataDir, 'api_token')).mode & 0o777, 0o600);
  const tenant = await runTen(['--data-dir', dataDir, 'token-gen', '--tenant', 'alice']);
  assert.match(tenant.stdout, /^ {2}tnm_\S+\n$/);
  assert.equal(readFileSync(join(dataDir, 'api_token'), 'utf8').trim(), admin.stdout.trim(), 'tenant tokens do not replace api_token');
  const list = await runTen(['--data-dir', dataDir, 'token-list']);
  assert.match(list.stdout, /^ID +SCOPE +CREATED\ntok_[0-9a-f]{8} +admin +\d+s ago\ntok_[0-9a-f]{8} +tenant alice +\d+s ago\n$/);
  const bad = await runTen(['--data-dir', dataDir, 'token-gen', '--tenant', 'Alice']);
  assert.equal(bad.code, 2);
});

test('every default the init template shows in a comment is the default the server applies', async (t) => {
  const dir = tempDir(t);
  const r = await runTen(['init', '--name', 'web', '--command', 'node a.js'], {}, dir);
  assert.equal(r.code, 0, r.stderr);
  const written = readFileSync(join(dir, 'tenement.toml'), 'utf8');
  // `# key = value   # why` inside a table: the key with the value it would have anyway. Keys
  // under a commented-out table header (`# [instances]`) are examples, not defaults.
  const commentedKey = /^# ([a-z_]+ = [^#]+?)\s*(#.*)?$/;
  let inExample = false;
  const uncommented = written.split('\n').map((line) => {
    if (line.startsWith('[')) inExample = false;
    if (line.startsWith('# [')) inExample = true;
    return inExample ? line : commentedKey.exec(line)?.[1] ?? line;
  }).join('\n');
  assert.notEqual(uncommented, written, 'the template has commented keys');
  const defaults = parseConfig(written, join(dir, 'tenement.toml'));
  const spelledOut = parseConfig(uncommented, join(dir, 'tenement.toml'));
  assert.deepEqual(spelledOut.settings, defaults.settings);
  const shown = spelledOut.services.web!.asWritten;
  for (const [key, value] of Object.entries(defaults.services.web!.asWritten)) {
    assert.deepEqual(shown[key as keyof typeof shown], value, `service key ${key}`);
  }
});

test('init writes a commented tenement.toml for the project here and refuses to overwrite', async (t) => {
  const dir = tempDir(t);
  const app = join(dir, 'my-app');
  mkdirSync(app);
  writeFileSync(join(app, 'app.py'), '');
  const r = await runTen(['init'], {}, app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote tenement\.toml: service "my-app" runs `python3 app\.py` \(detected a Python project\)\n/);
  const toml = readFileSync(join(app, 'tenement.toml'), 'utf8');
  assert.match(toml, /^\[service\.my-app\]\ncommand = "python3 app\.py"$/m);
  const again = await runTen(['init', '--name', 'x', '--command', 'node a.js'], {}, app);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: tenement\.toml already exists; not overwriting it\n/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const none = await runTen(['init'], {}, empty);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--command/);
});
