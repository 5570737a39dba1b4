// loadConfig/parseConfig: every bad-*.toml fixture fails with its one-line message; good files load.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TenementError } from '../core/errors.js';
import { loadConfig, parseConfig } from './load.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/config/', import.meta.url));
const badFixtures = readdirSync(FIXTURES).filter((name) => name.startsWith('bad-') && name.endsWith('.toml'));

function configError(load: () => unknown): TenementError {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof TenementError, `expected a TenementError, got ${String(err)}`);
    assert.equal(err.code, 'invalid_config');
    return err;
  }
  assert.fail('the config loaded, but it should have been refused');
}

test('the bad-config fixtures cover every error class', () => {
  assert.ok(badFixtures.length >= 16, `only ${badFixtures.length} bad-*.toml fixtures`);
});

for (const name of badFixtures) {
  test(`${name} is refused with one line naming the file and what is wrong`, () => {
    const expected = readFileSync(join(FIXTURES, name.replace(/\.toml$/, '.expected')), 'utf8').trim();
    const err = configError(() => loadConfig(join(FIXTURES, name)));
    assert.ok(err.message.startsWith(`${name}:`), err.message);
    assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
    assert.ok(err.message.includes(expected), `message:  ${err.message}\nexpected: ${expected}`);
    assert.equal(err.details?.file, join(FIXTURES, name));
  });
}

test('cert_file and key_file pair up by position, resolved against the config folder', () => {
  const config = parseConfig('[settings.tls]\nenabled = false\ncert_file = ["a.pem", "/etc/ssl/b.pem"]\nkey_file = ["a.key", "b.key"]\n', '/srv/app/tenement.toml');
  assert.deepEqual(config.settings.tls.certificates, [
    { certFile: '/srv/app/a.pem', keyFile: '/srv/app/a.key', key: 'settings.tls.cert_file[0]' },
    { certFile: '/etc/ssl/b.pem', keyFile: '/srv/app/b.key', key: 'settings.tls.cert_file[1]' },
  ]);
  const single = parseConfig('[settings.tls]\ncert_file = "a.pem"\nkey_file = "a.key"\n', '/srv/app/tenement.toml');
  assert.equal(single.settings.tls.certificates[0]?.key, 'settings.tls.cert_file');
});

test('a missing config file names the path as given and suggests ten init', () => {
  const err = configError(() => loadConfig('no-such-dir/tenement.toml'));
  assert.equal(err.message, 'cannot read config file no-such-dir/tenement.toml: no such file');
  assert.match(err.hint ?? '', /ten init/);
});

test('a minimal service gets every documented default, times in ms', () => {
  const config = parseConfig('[service.api]\ncommand = "node app.js"\n', '/srv/app/tenement.toml');
  assert.equal(config.file, '/srv/app/tenement.toml');
  assert.deepEqual(config.settings, {
    dataDir: '/srv/app/data',
    healthCheckIntervalMs: 10_000,
    maxRestarts: 3,
    restartWindowMs: 300_000,
    backoffBaseMs: 1000,
    backoffMaxMs: 60_000,
    portRange: [30000, 40000],
    logRetentionDays: 7,
    logRetentionMb: 100,
    publicMetrics: false,
    maxConnections: 10_000,
    trustedProxies: [],
    minFreeMb: 128,
    maxSseClients: 100,
    autoSpawnPerMinute: 10,
    uidRange: [61184, 65519],
    portFence: undefined,
    tls: {
      enabled: false, domain: undefined, httpsPort: 443, acmeEmail: undefined, acmeDirectory: 'https://acme-v02.api.letsencrypt.org/directory',
      ordersPerHour: 20, renewalWindowRatio: 1 / 3, certificates: [],
    },
  });
  const { asWritten, ...api } = config.services.api!;
  assert.deepEqual(api, {
    name: 'api',
    argv: ['node', 'app.js'],
    workdir: '/srv/app',
    health: undefined,
    isolation: 'process',
    idleTimeoutMs: 300_000,
    startupTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    stopTimeoutMs: 10_000,
    restart: 'on-failure',
    storagePersist: true,
    memoryLimitMb: undefined,
    cpuShares: undefined,
    storageQuotaMb: undefined,
    pidsLimit: undefined,
    user: undefined,
    autoSpawn: false,
    maxInstances: 1000,
    env: {},
    freezeAfterMs: 0,
    wakePageAfterMs: 1000,
    wakePage: undefined,
    idleIgnore: { paths: [], agents: [] },
    rollout: { maxErrorRate: 0.05, maxP95Ratio: 2, minRequests: 20 },
  });
  assert.deepEqual(asWritten, {
    command: 'node app.js', args: [], workdir: '.', isolation: 'process', idle_timeout: 300, startup_timeout: 10,
    request_timeout: 30, stop_timeout: 10, restart: 'on-failure', storage_persist: true, auto_spawn: false, max_instances: 1000, env: {},
    freeze_after: 0, wake_page_after: 1, idle_ignore: [], rollout: { max_error_rate: 0.05, max_p95_ratio: 2, min_requests: 20 },
  }, 'the table as written, defaults filled in, for GET /api/config');
  assert.deepEqual(config.instances, {});
  assert.deepEqual(config.routing, { subdomain: {}, path: {} });
  assert.equal(config.routing.default, undefined);
});

test('good-full.toml sets every key and each one arrives in the Config', () => {
  const config = loadConfig(join(FIXTURES, 'good-full.toml'));
  assert.equal(config.settings.dataDir, join(FIXTURES, 'state'));
  assert.equal(config.settings.healthCheckIntervalMs, 5000);
  assert.deepEqual(config.settings.portRange, [31000, 32000]);
  assert.equal(config.settings.publicMetrics, true);
  assert.equal(config.settings.maxConnections, 5000);
  assert.deepEqual(config.settings.trustedProxies, ['127.0.0.1', '10.0.0.0/8', '::1/128']);
  assert.equal(config.settings.minFreeMb, 512);
  assert.equal(config.settings.maxSseClients, 20);
  assert.equal(config.settings.autoSpawnPerMinute, 3);
  assert.deepEqual(config.settings.uidRange, [70000, 70999]);
  assert.equal(config.settings.portFence, false);
  assert.deepEqual(config.settings.tls, {
    enabled: true,
    domain: 'example.com',
    httpsPort: 8443,
    acmeEmail: 'ops@example.com',
    acmeDirectory: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    ordersPerHour: 5,
    renewalWindowRatio: 0.25,
    certificates: [],
  });
  const notes = config.services.notes;
  assert.ok(notes);
  assert.deepEqual(notes.argv, ['python3', 'app.py', '--quiet']);
  assert.equal(notes.workdir, join(FIXTURES, 'apps/notes'));
  assert.equal(notes.isolation, 'namespace');
  assert.equal(notes.idleTimeoutMs, 0);
  assert.equal(notes.startupTimeoutMs, 2500);
  assert.equal(notes.restart, 'always');
  assert.equal(notes.storagePersist, false);
  assert.deepEqual([notes.memoryLimitMb, notes.cpuShares, notes.storageQuotaMb], [256, 100, 100]);
  assert.deepEqual([notes.autoSpawn, notes.maxInstances], [true, 50]);
  assert.equal(notes.pidsLimit, 128);
  assert.deepEqual(notes.user, { name: 'nobody', uid: 65534, gid: 65534 });
  assert.deepEqual(notes.env, { DATA_DIR: '{data_dir}/{name}/{id}', LOG_LEVEL: 'info' });
  assert.deepEqual([notes.freezeAfterMs, notes.wakePageAfterMs], [0, 2500]);
  assert.match(notes.wakePage ?? '', /^<p>\{\{instance\}\} is starting/);
  assert.deepEqual(notes.idleIgnore, { paths: ['/health'], agents: ['uptimerobot', 'googlebot'] });
  assert.equal(config.services.adminsvc?.freezeAfterMs, 30_000);
  assert.deepEqual(config.instances, { notes: ['demo', 'alice'] });
  assert.deepEqual(config.routing, { default: 'notes', subdomain: { admin: 'adminsvc' }, path: { '/app': 'appsvc' } });
});

const resolutionCases = [
  { name: 'relative data_dir and workdir resolve against the config folder', toml: 'data_dir = "../var/ten"', workdir: 'bin', dataDir: '/srv/var/ten', workdirOut: '/srv/app/bin' },
  { name: 'absolute paths stay as written', toml: 'data_dir = "/var/lib/ten"', workdir: '/opt/api', dataDir: '/var/lib/ten', workdirOut: '/opt/api' },
];
for (const c of resolutionCases) {
  test(c.name, () => {
    const text = `[settings]\n${c.toml}\n[service.api]\ncommand = "x"\nworkdir = "${c.workdir}"\n`;
    const config = parseConfig(text, '/srv/app/tenement.toml');
    assert.equal(config.settings.dataDir, c.dataDir);
    assert.equal(config.services.api?.workdir, c.workdirOut);
  });
}

test('--data-dir overrides [settings] data_dir, relative to the current directory', () => {
  const config = parseConfig('[settings]\ndata_dir = "/var/lib/ten"\n', '/srv/app/tenement.toml', { dataDir: 'tmp/data' });
  assert.equal(config.settings.dataDir, resolve('tmp/data'));
});

const commandCases = [
  { command: `"python3 -c 'print(1)'"`, args: '', argv: ['python3', '-c', 'print(1)'] },
  { command: `'node "my app.js" --flag'`, args: '', argv: ['node', 'my app.js', '--flag'] },
  { command: String.raw`"node my\\ app.js"`, args: '', argv: ['node', 'my app.js'] },
  { command: '"sh"', args: 'args = ["-c", "echo hi | tee out.log"]', argv: ['sh', '-c', 'echo hi | tee out.log'] },
  { command: '"/opt/my tools/server"', args: 'args = ["--port", "1"]', argv: ['/opt/my tools/server', '--port', '1'] },
];
for (const c of commandCases) {
  test(`command = ${c.command} ${c.args} runs ${JSON.stringify(c.argv)}`, () => {
    const config = parseConfig(`[service.api]\ncommand = ${c.command}\n${c.args}\n`, '/srv/tenement.toml');
    assert.deepEqual(config.services.api?.argv, c.argv);
  });
}

const shellCases = ['node a.js && node b.js', 'node app.js > out.log', 'node $APP', 'node *.js', 'node app.js # main'];
for (const command of shellCases) {
  test(`command "${command}" is refused: tenement runs no shell`, () => {
    const err = configError(() => parseConfig(`[service.api]\ncommand = "${command}"\n`, '/srv/tenement.toml'));
    assert.match(err.message, /^tenement\.toml: service\.api\.command: .* needs a shell.*command = "sh" and args = \["-c", "\.\.\."\]/);
    assert.equal(err.details?.key, 'service.api.command');
  });
}

test('the loaded Config is deeply frozen', () => {
  const config = loadConfig(join(FIXTURES, 'good-full.toml'));
  for (const value of [config, config.settings, config.settings.portRange, config.settings.tls, config.services, config.services.notes,
    config.services.notes?.argv, config.services.notes?.env, config.instances, config.instances.notes, config.routing.path]) {
    assert.ok(Object.isFrozen(value));
  }
  assert.throws(() => {
    (config.settings as { maxRestarts: number }).maxRestarts = 99;
  }, TypeError);
});

test('backoff_base_ms = 0 means restart at once; below 0 is refused', () => {
  const config = parseConfig('[settings]\nbackoff_base_ms = 0\n', '/srv/app/tenement.toml');
  assert.equal(config.settings.backoffBaseMs, 0);
  assert.equal(configError(() => parseConfig('[settings]\nbackoff_base_ms = -1\n', '/srv/app/tenement.toml')).message,
    'tenement.toml: settings.backoff_base_ms: must be at least 0, got -1');
});
