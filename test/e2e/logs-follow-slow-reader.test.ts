// `ten logs -f` on a reader slower than the tenant's output (a blocked pipe): the server drops the
// stream instead of queueing without end, and the CLI resumes after the last line it printed, so
// the output has every line exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startDaemon, TEN, waitFor } from '../helpers/daemon.js';

// 1,500 lines/s of ~500 bytes: under the store's rate limit (so every line is kept), ~1 MB/s as events.
const CONFIG = `
[service.flood]
command = "node {apps}/log-flood.mjs"
health = "/health"
[service.flood.env]
FLOOD_LINES_PER_S = "1500"
FLOOD_LINE_BYTES = "500"

[instances]
flood = ["one"]
`;

test('ten logs -f behind a blocked pipe is dropped, resumes, and prints every line once', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  const follower = spawn(process.execPath, [TEN, 'logs', 'flood:one', '-f', '--stream', 'stdout', '--limit', '1'], {
    env: { ...process.env, TENEMENT_SERVER: d.url, TENEMENT_TOKEN: d.token }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { follower.kill(); });
  let stderr = '';
  follower.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  // Nothing reads the follower's stdout yet: its pipe fills, its writes block, it stops reading.
  await waitFor(() => d.output().includes('dropped an event-stream client that stopped reading'), 90_000, 'the server to drop the blocked ten logs -f');

  let out = '';
  follower.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const numbers = (): number[] => [...out.matchAll(/ \| flood (\d+) /g)].map((m) => Number(m[1]));
  // Well past the drop: the lines queued before it, the catch-up from the store, then live ones.
  const target = await waitFor(() => numbers()[0], 20_000, 'the first line') + 30_000;
  await waitFor(() => (numbers().at(-1) ?? 0) >= target, 90_000, () => `lines up to ${target}, at ${numbers().at(-1)}`);
  const seen = numbers();
  const gaps = seen.slice(1).filter((n, i) => n !== seen[i]! + 1);
  assert.deepEqual(gaps.slice(0, 5), [], `every line once and in order (${seen.length} lines)`);
  assert.equal(follower.exitCode, null, `ten logs -f is still following: ${stderr}`);
});
