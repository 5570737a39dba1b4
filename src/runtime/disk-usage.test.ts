// storage_quota_mb is measured like `du`: real files count, symlinks never reach outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureDirBytes } from './disk-usage.js';

const MB = 1024 * 1024;

test('a tree of files measures what du measures', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tenement-du-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (let i = 0; i < 30; i++) {
    const sub = join(dir, `d${i % 5}`, `e${i % 3}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `f${i}`), Buffer.alloc(10_000 + i * 1000, 1));
  }
  const duBytes = Number(execFileSync('du', ['-s', '-B1', dir], { encoding: 'utf8' }).split('\t')[0]);
  assert.equal(await measureDirBytes(dir), duBytes);
});

test('a symlink to a big file elsewhere does not count the target; a hard link counts once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tenement-du-'));
  const outside = await mkdtemp(join(tmpdir(), 'tenement-du-outside-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  t.after(() => rm(outside, { recursive: true, force: true }));
  await writeFile(join(dir, 'own'), Buffer.alloc(MB, 1));
  const alone = await measureDirBytes(dir);
  await writeFile(join(outside, 'big'), Buffer.alloc(8 * MB, 1));
  await symlink(join(outside, 'big'), join(dir, 'to-big'));
  await symlink(outside, join(dir, 'to-outside-dir'));
  await link(join(dir, 'own'), join(dir, 'own-again'));
  const measured = await measureDirBytes(dir);
  assert.ok(measured >= MB && measured < alone + MB, `${measured} bytes: own file once, symlinks as themselves`);
});

test('a directory that does not exist measures 0', async () => {
  assert.equal(await measureDirBytes(join(tmpdir(), 'tenement-du-no-such-dir')), 0);
});
