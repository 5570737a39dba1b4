// `ten` as a subprocess: exit codes and one-line errors for bad input, unknown instances and an
// unreachable server. No stack traces, ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { runTen, startDaemon, type CliResult } from '../helpers/daemon.js';

function assertOneLineError(r: CliResult, exitCode: number, pattern: RegExp): void {
  assert.equal(r.code, exitCode, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^error: /);
  assert.match(lines[0] ?? '', pattern);
  assert.ok(lines.length === 1 || (lines.length === 2 && lines[1]!.startsWith('hint: ')), `more than an error and a hint:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+/, 'stack trace');
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

test('bad input exits 2 with one line naming what is allowed', async () => {
  const env = { TENEMENT_SERVER: 'http://127.0.0.1:1', TENEMENT_TOKEN: 'tnm_x' };
  const cases: Array<[string[], RegExp]> = [
    [['spawn', 'notes:../x'], /invalid id "\.\.\/x": use lower-case letters/],
    [['spawn', 'NOTES:a'], /invalid service "NOTES"/],
    [['start', 'notes'], /expected SERVICE:ID/],
    [['weight', 'notes:a', '101'], /invalid weight "101": use a whole number from 0 to 100/],
    [['weight', 'notes:a', 'abc'], /invalid weight "abc"/],
    [['spawn', 'notes:a', '--weight', '101'], /invalid weight/],
    [['spawn', 'notes'], /missing id/],
    [['ps', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['deploy', 'api:v2', '--timeout', 'soon'], /invalid number of seconds/],
  ];
  for (const [args, pattern] of cases) assertOneLineError(await runTen(args, env), 2, pattern);
});

test('an unreachable server exits 1 and says which URL', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const r = await runTen(['ps'], { TENEMENT_SERVER: url, TENEMENT_TOKEN: 'tnm_x' });
  assertOneLineError(r, 1, new RegExp(`^error: cannot reach tenement at ${url} \\(is \`ten serve\` running\\?\\)$`));
});

test('unknown instances and wrong tokens exit 1 with the server message', async (t) => {
  const d = await startDaemon(t, { config: '[service.notes]\ncommand = "node {apps}/ok.mjs"\nhealth = "/health"\n' });
  assertOneLineError(await d.ten(['health', 'notes:ghost']), 1, /notes:ghost/);
  assertOneLineError(await d.ten(['stop', 'notes:ghost']), 1, /notes:ghost/);
  assertOneLineError(await d.ten(['spawn', 'ghost:a']), 1, /no service "ghost"/);
  assertOneLineError(await d.ten(['ps'], { TENEMENT_TOKEN: 'tnm_wrong' }), 1, /invalid API token/);
  const ok = await d.ten(['--help']);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /Usage: ten/);
});
