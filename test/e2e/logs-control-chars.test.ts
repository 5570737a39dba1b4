// A tenant that prints terminal escape sequences cannot drive the terminal of whoever reads its
// logs: `ten logs` (plain, --json and -f) shows them as visible escapes, never raw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startDaemon, TEN, waitFor } from '../helpers/daemon.js';

// Clear screen, set the window title (OSC … BEL), an 8-bit CSI, a right-to-left override, a tab.
const CONFIG = `
[service.term]
command = "node {apps}/log-marker.mjs"
health = "/health"
[service.term.env]
MARKER = "evil \\u001b[2J\\u001b]0;pwned\\u0007 \\u009b31m \\u202Eabc tab\\there"

[instances]
term = ["alice"]
`;

const SHOWN = 'evil \\x1b[2J\\x1b]0;pwned\\x07 \\x9b31m \\u202eabc tab\there';
/** Raw control characters other than tab and newline, C1 and bidi overrides. */
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/;

test('ten logs shows a tenant\'s control characters as escapes: plain, --json and -f', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  const plain = await waitFor(async () => {
    const r = await d.ten(['logs', 'term:alice', '--stream', 'stdout']);
    return r.stdout.includes('evil') ? r : undefined;
  }, 20_000, 'the line in ten logs');
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout, RAW, 'raw control characters reached the terminal');
  assert.ok(plain.stdout.includes(`stdout | ${SHOWN}\n`), plain.stdout);

  const json = await d.ten(['logs', 'term:alice', '--stream', 'stdout', '--json']);
  assert.doesNotMatch(json.stdout, RAW);
  const lines = JSON.parse(json.stdout) as Array<{ line: string }>;
  assert.equal(lines[0]!.line, 'evil \u001b[2J\u001b]0;pwned\u0007 \u009b31m \u202eabc tab\there', 'JSON still carries the exact line');

  const follower = spawn(process.execPath, [TEN, 'logs', 'term:alice', '-f', '--stream', 'stdout'], {
    env: { ...process.env, TENEMENT_SERVER: d.url, TENEMENT_TOKEN: d.token }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { follower.kill(); });
  let followed = '';
  follower.stdout.on('data', (c: Buffer) => { followed += c.toString('latin1'); });
  // A new process prints the marker again, live.
  assert.equal((await d.ten(['restart', 'term:alice'])).code, 0);
  await waitFor(() => followed.split(SHOWN).length > 2, 20_000, () => `the line twice in ten logs -f:\n${followed}`);
  assert.doesNotMatch(followed, RAW);
});
