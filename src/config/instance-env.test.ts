// What an instance's environment holds: a safe base, tenement's variables, the service's env.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildInstanceEnv, instanceDataDir } from './instance-env.js';
import { parseConfig } from './load.js';

const serverEnv = { PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', TENEMENT_TOKEN: 'secret', AWS_SECRET_ACCESS_KEY: 'x', NODE_OPTIONS: '--inspect' };

function envFor(envToml: string, id = 'alice', port = 30001) {
  const config = parseConfig(`[settings]\ndata_dir = "/var/lib/ten"\n[service.notes]\ncommand = "node app.js"\n[service.notes.env]\n${envToml}\n`, '/srv/tenement.toml');
  const service = config.services.notes;
  assert.ok(service);
  return buildInstanceEnv(config, service, id, port, serverEnv);
}

test('instanceDataDir is {data_dir}/{service}/{id}', () => {
  assert.equal(instanceDataDir({ dataDir: '/var/lib/ten' }, 'notes', 'alice'), '/var/lib/ten/notes/alice');
});

const cases = [
  {
    name: 'an instance gets PORT, HOST, DATA_DIR, TENEMENT_INSTANCE and only the safe part of the server env',
    envToml: '',
    expected: { PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', PORT: '30001', HOST: '127.0.0.1', DATA_DIR: '/var/lib/ten/notes/alice', TENEMENT_INSTANCE: 'notes:alice' },
  },
  {
    name: 'service env values are interpolated per instance',
    envToml: 'GREETING = "hi {id} from {name} on {port}"\nSTORE = "{data_dir}/shared"',
    expected: { GREETING: 'hi alice from notes on 30001', STORE: '/var/lib/ten/shared' },
  },
  {
    name: 'the service env may override DATA_DIR and inherited variables',
    envToml: 'DATA_DIR = "/mnt/tenants/{id}"\nPATH = "/opt/bin"',
    expected: { DATA_DIR: '/mnt/tenants/alice', PATH: '/opt/bin' },
  },
];
for (const c of cases) {
  test(c.name, () => {
    const env = envFor(c.envToml);
    for (const [key, value] of Object.entries(c.expected)) assert.equal(env[key], value, key);
    if (c.envToml === '') assert.deepEqual(Object.keys(env).sort(), Object.keys(c.expected).sort());
  });
}

test('server secrets never reach an instance', () => {
  const env = envFor('LOG_LEVEL = "info"');
  for (const key of ['TENEMENT_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'NODE_OPTIONS']) assert.equal(env[key], undefined, key);
});
