// The one /proc/PID/stat parser: fields counted from the last ')', since a process may name itself
// anything, spaces and parens included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcStat, readProcStat } from './proc-stat.js';

/** A stat line with fields 3.. as given after `comm`; utime..cstime = 11 12 13 14, starttime 777. */
function statLine(comm: string, state = 'S'): string {
  return `4242 (${comm}) ${state} 1 4242 4242 0 -1 4194560 100 0 0 0 11 12 13 14 20 0 1 0 777 1000 200 18446744073709551615\n`;
}

test('stat lines parse whatever the process calls itself', () => {
  const cases: ReadonlyArray<[string, string]> = [
    ['plain', 'node'], ['spaces', 'my app'], ['parens', 'a) S 1 2 (b'], ['empty', ''],
  ];
  for (const [what, comm] of cases) {
    assert.deepEqual(parseProcStat(statLine(comm)), { state: 'S', ppid: 1, pgrp: 4242, cpuTicks: 50, startTime: 777 }, what);
  }
  assert.equal(parseProcStat(statLine('z', 'Z'))?.state, 'Z');
});

test('text that is not a stat line gives undefined', () => {
  for (const text of ['', 'garbage', '1 (x) S 1', '1 (x) S a b c']) assert.equal(parseProcStat(text), undefined, JSON.stringify(text));
});

test('this process reads as itself', () => {
  const self = readProcStat(process.pid);
  assert.ok(self !== undefined);
  assert.equal(self.ppid, process.ppid);
  assert.equal(self.state, 'R');
});
