// An instance's output reaches the logs as whole lines, however the pipe chunks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { LineSplitter, MAX_LINE_BYTES, MAX_LINES_PER_SECOND, TRUNCATION_MARKER, readLines } from './line-splitter.js';

const euro = Buffer.from('€', 'utf8'); // e2 82 ac
const long = 'a'.repeat(MAX_LINE_BYTES + 5000);

const cases: Array<{ name: string; chunks: Array<string | Buffer>; lines: string[] }> = [
  { name: 'one chunk, several lines', chunks: ['one\ntwo\nthree\n'], lines: ['one', 'two', 'three'] },
  { name: 'a line split across chunks', chunks: ['hel', 'lo wo', 'rld\nnext\n'], lines: ['hello world', 'next'] },
  { name: 'CRLF line endings', chunks: ['a\r\nb\r', '\n'], lines: ['a', 'b'] },
  { name: 'a carriage return inside a line stays', chunks: ['50%\r100%\n'], lines: ['50%\r100%'] },
  { name: 'empty lines are kept', chunks: ['a\n\nb\n'], lines: ['a', '', 'b'] },
  { name: 'a last line without newline is flushed at the end', chunks: ['a\nlast'], lines: ['a', 'last'] },
  { name: 'nothing after the last newline emits nothing more', chunks: ['a\n'], lines: ['a'] },
  {
    name: 'a UTF-8 character split across chunks decodes whole',
    chunks: [Buffer.from('price: '), euro.subarray(0, 1), euro.subarray(1, 2), Buffer.concat([euro.subarray(2), Buffer.from('5\n')])],
    lines: ['price: €5'],
  },
  {
    name: 'a line over the limit is cut with a marker and its rest dropped',
    chunks: [`${long}\nafter\n`],
    lines: [`${'a'.repeat(MAX_LINE_BYTES)}${TRUNCATION_MARKER}`, 'after'],
  },
  {
    name: 'an over-long line arriving in small chunks is cut once',
    chunks: [...Array.from({ length: 40 }, () => 'b'.repeat(1000)), '\nafter'],
    lines: [`${'b'.repeat(MAX_LINE_BYTES)}${TRUNCATION_MARKER}`, 'after'],
  },
  {
    name: 'a line of exactly the limit is not cut',
    chunks: [`${'c'.repeat(MAX_LINE_BYTES)}\n`],
    lines: ['c'.repeat(MAX_LINE_BYTES)],
  },
  {
    name: 'the cut never splits a multi-byte character',
    chunks: [`${'d'.repeat(MAX_LINE_BYTES - 1)}€€€\n`],
    lines: [`${'d'.repeat(MAX_LINE_BYTES - 1)}${TRUNCATION_MARKER}`],
  },
  {
    name: 'an over-long last line without newline is emitted once',
    chunks: [long],
    lines: [`${'a'.repeat(MAX_LINE_BYTES)}${TRUNCATION_MARKER}`],
  },
];

for (const { name, chunks, lines } of cases) {
  test(name, () => {
    const seen: string[] = [];
    const splitter = new LineSplitter((line) => seen.push(line));
    for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    splitter.end();
    assert.deepEqual(seen, lines);
  });
}

test('readLines delivers every line of a stream and resolves when it closes', async () => {
  const stream = new PassThrough();
  const seen: string[] = [];
  const done = readLines(stream, (line) => seen.push(line));
  stream.write('first\nsec');
  stream.end('ond');
  await done;
  assert.deepEqual(seen, ['first', 'second']);
});

test('readLines flushes the partial line of a destroyed stream', async () => {
  const stream = new PassThrough();
  const seen: string[] = [];
  const done = readLines(stream, (line) => seen.push(line));
  stream.write('partial');
  await new Promise((resolve) => setImmediate(resolve));
  stream.destroy();
  await done;
  assert.deepEqual(seen, ['partial']);
});

test('a flooding stream is read at most MAX_LINES_PER_SECOND: the writer is held back, nothing is lost', async () => {
  const stream = new PassThrough();
  const seen: number[] = [];
  const done = readLines(stream, () => seen.push(Date.now()));
  const total = MAX_LINES_PER_SECOND / 2;
  const started = Date.now();
  const chunk = Buffer.from('x\n'.repeat(1000));
  for (let i = 0; i < total / 1000; i++) stream.write(chunk);
  stream.end();
  await done;
  assert.equal(seen.length, total, 'every line is delivered, just not all at once');
  // Half a second's budget cannot all be read within the first 100 ms window.
  const firstWindow = seen.filter((t) => t - started < 100).length;
  assert.ok(firstWindow < total, `${firstWindow} of ${total} lines were read in the first window`);
});
