import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDataDir, resolveServer, resolveToken } from './globals.js';

test('the data dir comes from --data-dir, else the config file, else ./data', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-globals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(resolveDataDir({}, dir), join(dir, 'data'));
  writeFileSync(join(dir, 'tenement.toml'), '[settings]\ndata_dir = "./state"\n[service.x]\ncommand = "x"\n');
  assert.equal(resolveDataDir({}, dir), join(dir, 'state'));
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'other.toml'), '[settings]\ndata_dir = "d"\n');
  assert.equal(resolveDataDir({ config: 'etc/other.toml' }, dir), join(dir, 'etc', 'd'));
  assert.equal(resolveDataDir({ dataDir: 'explicit', config: 'etc/other.toml' }, dir), join(dir, 'explicit'));
  writeFileSync(join(dir, 'broken.toml'), '[settings\n');
  assert.equal(resolveDataDir({ config: 'broken.toml' }, dir), join(dir, 'data'));
});

test('the token comes from --token, else TENEMENT_TOKEN, else {data_dir}/api_token', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenement-globals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(resolveToken({}, dir, {}), undefined);
  writeFileSync(join(dir, 'api_token'), 'tnm_file\n');
  assert.equal(resolveToken({}, dir, {}), 'tnm_file');
  assert.equal(resolveToken({}, dir, { TENEMENT_TOKEN: 'tnm_env' }), 'tnm_env');
  assert.equal(resolveToken({ token: 'tnm_flag' }, dir, { TENEMENT_TOKEN: 'tnm_env' }), 'tnm_flag');
  assert.equal(resolveServer({}, {}), 'http://127.0.0.1:8080');
  assert.equal(resolveServer({}, { TENEMENT_SERVER: 'http://10.0.0.1:9' }), 'http://10.0.0.1:9');
  assert.throws(() => resolveServer({ server: 'nope' }, {}), { code: 'usage' });
});
