// `ten reload`, SIGHUP and POST /api/reload against a real server: an invalid file changes nothing
// and says why (the same line `ten serve` prints), a valid one applies at once — a new service
// routes, running instances keep their template and show as outdated, stopped ones wake on the new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, runTen, startDaemon, tempDir, waitFor, type Daemon } from '../helpers/daemon.js';

const NOTES = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
idle_timeout = 0
env = { GREETING = "one" }
`;
const WEB = `
[service.web]
command = "node {apps}/ok.mjs"
health = "/health"
auto_spawn = true
`;

interface Listed { instance: string; state: string; pid: number | null; port: number | null; weight: number; outdated: boolean }

function writeConfig(d: Daemon, text: string): void {
  writeFileSync(d.configFile, text.replaceAll('{apps}', APPS));
}

async function list(d: Daemon): Promise<Record<string, Listed>> {
  const r = await d.ten(['ps', '-a', '--json']);
  assert.equal(r.code, 0, r.stderr);
  // What a reload may change; uptime and idle time move on by themselves.
  return Object.fromEntries((JSON.parse(r.stdout) as Listed[]).map((i) => [
    i.instance, { instance: i.instance, state: i.state, pid: i.pid, port: i.port, weight: i.weight, outdated: i.outdated },
  ]));
}

async function greeting(d: Daemon, host: string): Promise<string> {
  const r = await d.http('/env', { host });
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as Record<string, string>).GREETING ?? '';
}

test('config reload', async (t) => {
  const d = await startDaemon(t, { config: NOTES });
  assert.equal((await d.ten(['spawn', 'notes:a'])).code, 0);
  assert.equal((await d.ten(['spawn', 'notes:b'])).code, 0);
  assert.equal((await d.ten(['stop', 'notes:b'])).code, 0);
  const before = await list(d);

  await t.test('an invalid file changes nothing and fails with the line ten serve prints (exit 2)', async () => {
    writeConfig(d, `${NOTES.replace('GREETING = "one"', 'GREETING = "two"')}\n[service.web]\ncomand = "node x.mjs"\n`);
    const reload = await d.ten(['reload']);
    assert.equal(reload.code, 2, reload.stdout);
    const serveDir = tempDir(t);
    const serve = await runTen(['serve', '--config', d.configFile, '--data-dir', join(serveDir, 'data'), '--port', '0'], {}, serveDir);
    assert.equal(serve.code, 2);
    const reason = serve.stderr.split('\n')[0]!;
    assert.match(reason, /service\.web: unknown key "comand"/);
    assert.equal(reload.stderr.split('\n')[0], reason);

    const api = await d.http('/api/reload', { method: 'POST', headers: { authorization: `Bearer ${d.token}` } });
    assert.equal(api.status, 400);
    assert.match(api.body, /"code":"invalid_config".*unknown key \\"comand\\"/);

    assert.deepEqual(await list(d), before);
    assert.equal((await d.http('/', { host: 'x.web.localhost' })).status, 404);
    assert.equal(await greeting(d, 'a.notes.localhost'), 'one');
  });

  await t.test('removing a service that has instances is refused, naming them and how to remove them', async () => {
    writeConfig(d, WEB);
    const r = await d.ten(['reload']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot remove service notes: it still has instances \(notes:a, notes:b\); nothing was changed/);
    assert.match(r.stderr, /ten rm notes:a/);
    assert.deepEqual(await list(d), before);
    assert.equal((await d.http('/', { host: 'x.web.localhost' })).status, 404);
  });

  await t.test('a valid file applies at once: the new service routes, running instances keep their template', async () => {
    writeConfig(d, `${NOTES.replace('GREETING = "one"', 'GREETING = "two"')}${WEB}`);
    const r = await d.ten(['reload']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      '+ service web',
      '~ notes: env changed — 1 running on the old template until restarted or rolled out, 1 idle or stopped start on the new one',
    ]);

    const web = await d.http('/', { host: 'x.web.localhost' });
    assert.equal(web.status, 200, web.body);
    assert.equal(web.body, 'hello from web:x');

    const after = await list(d);
    assert.equal(after['notes:a']!.pid, before['notes:a']!.pid, 'the running instance was not restarted');
    assert.equal(after['notes:a']!.outdated, true);
    assert.equal(after['notes:b']!.outdated, false);
    assert.equal(after['web:x']!.outdated, false);
    assert.equal(await greeting(d, 'a.notes.localhost'), 'one');
    const ps = await d.ten(['ps']);
    assert.match(ps.stdout, /^on an outdated template \(`ten restart` them, or `ten rollout notes`\): notes:a$/m);

    // The stopped one wakes on the new template; the running one moves when restarted.
    assert.equal(await greeting(d, 'b.notes.localhost'), 'two');
    assert.equal((await d.ten(['restart', 'notes:a'])).code, 0);
    assert.equal(await greeting(d, 'a.notes.localhost'), 'two');
    assert.equal((await list(d))['notes:a']!.outdated, false);

    const again = await d.ten(['reload']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout.trim(), 'no change: the server already runs this config');
  });

  await t.test('SIGHUP reloads too, and a bad file on SIGHUP leaves the server running as it was', async () => {
    writeConfig(d, `${NOTES.replace('GREETING = "one"', 'GREETING = "two"')}${WEB}[routing]\ndefault = "nope"\n`);
    d.proc.kill('SIGHUP');
    await waitFor(() => /config not reloaded: tenement\.toml: routing\.default: no \[service\.nope\]/.test(d.output()), 10_000, () => d.output());
    assert.equal((await d.http('/health')).status, 200);

    writeConfig(d, `${NOTES.replace('GREETING = "one"', 'GREETING = "two"')}${WEB}[routing]\ndefault = "web"\n`);
    d.proc.kill('SIGHUP');
    await waitFor(() => /config reloaded:\n {2}~ routing changed/.test(d.output()), 10_000, () => d.output());
    // The bare domain now goes to the default service (the API keeps its paths).
    const bare = await d.http('/', { host: 'localhost' });
    assert.equal(bare.status, 200, bare.body);
    assert.match(bare.body, /^hello from web:/);
  });
});
