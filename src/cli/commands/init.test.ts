import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { detectApp, nameFromFolder, renderConfig } from './init.js';

test('init detects Node, Python and Go projects', (t) => {
  const cases: Array<[Record<string, string>, string | undefined]> = [
    [{ 'package.json': '{"scripts":{"start":"node server.js"}}' }, 'npm start'],
    [{ 'package.json': '{"main":"src/index.js"}' }, 'node src/index.js'],
    [{ 'app.py': '' }, 'python3 app.py'],
    [{ 'main.py': '' }, 'python3 main.py'],
    [{ 'go.mod': 'module x' }, 'go run .'],
    [{ 'README.md': '' }, undefined],
  ];
  for (const [files, command] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'tenement-init-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    assert.equal(detectApp(dir)?.command, command, JSON.stringify(files));
  }
});

test('the written config is valid TOML naming the service and command', () => {
  const toml = parse(renderConfig('my-app', 'python3 "app.py"')) as { service: Record<string, { command: string }> };
  assert.equal(toml.service['my-app']?.command, 'python3 "app.py"');
  assert.equal(nameFromFolder('/srv/My App.v2'), 'my-app-v2');
  assert.equal(nameFromFolder('/srv/___'), 'app');
  assert.equal(nameFromFolder('/home/me/Tenement'), 'app', 'the dashboard host label is reserved');
});
