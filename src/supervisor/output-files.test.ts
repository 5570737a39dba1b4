// Instance output files: lines are handed on whole (a partial line waits for its newline, or for
// the writer to be gone), reading resumes from a recorded offset, and a backlog beyond the bound
// is skipped with a marker instead of being read (or kept) without limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputDir } from './output-files.js';

function setup(t: { after(fn: () => void): void }): { dir: OutputDir; file: (stream: string) => string; lines: string[] } {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenement-output-'));
  const dir = new OutputDir(dataDir);
  t.after(() => {
    dir.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { dir, file: (stream) => join(dataDir, '.output', `api.a.${stream}`), lines: [] };
}

test('a line is handed on once its newline is written; the last one when the writer is gone', (t) => {
  const { dir, file, lines } = setup(t);
  const { output } = dir.create('api', 'a', (stream, line) => lines.push(`${stream} ${line}`));
  appendFileSync(file('stdout'), 'one\ntw');
  appendFileSync(file('stderr'), 'oops\n');
  output.drain();
  assert.deepEqual(lines, ['stdout one', 'stderr oops']);
  assert.deepEqual(output.offsets, { stdout: 4, stderr: 5 });
  appendFileSync(file('stdout'), 'o\nthree');
  output.close(true);
  assert.deepEqual(lines, ['stdout one', 'stderr oops', 'stdout two', 'stdout three']);
});

test('reading resumes from a recorded offset: nothing before it again, nothing after it missed', (t) => {
  const { dir, file, lines } = setup(t);
  const first = dir.create('api', 'a', () => undefined);
  appendFileSync(file('stdout'), 'old 1\nold 2\n');
  first.output.drain();
  const at = first.output.offsets;
  first.output.close(false);
  appendFileSync(file('stdout'), 'while no server ran\n');
  const resumed = dir.resume('api', 'a', at, (_stream, line) => lines.push(line));
  appendFileSync(file('stdout'), 'after\n');
  resumed.close(true);
  assert.deepEqual(lines, ['while no server ran', 'after']);
});

test('a backlog over 32 MB is skipped with a line saying how much, and reading goes on after it', (t) => {
  const { dir, file, lines } = setup(t);
  const { output } = dir.create('api', 'a', (_stream, line) => lines.push(line));
  const chunk = `${'x'.repeat(1023)}\n`.repeat(1024);
  for (let mb = 0; mb < 33; mb++) appendFileSync(file('stdout'), chunk);
  output.drain();
  appendFileSync(file('stdout'), 'after the flood\n');
  output.close(true);
  assert.deepEqual(lines, ['[tenement] 34603008 bytes of output skipped: written faster than they could be read', 'after the flood']);
});
