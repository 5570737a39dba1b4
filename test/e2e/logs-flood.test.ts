// A tenant flooding its stdout: the server's memory stays bounded, the excess is dropped with a
// visible marker, and another instance's lines still get through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startDaemon, waitFor } from '../helpers/daemon.js';

const CONFIG = `
[service.flood]
command = "node {apps}/log-flood.mjs"
[service.notes]
command = "node {apps}/log-marker.mjs"
health = "/health"
[service.notes.env]
MARKER = "quiet-neighbour-alive"
`;

/** The server keeps RSS under this however much a tenant logs (its own baseline is well under). */
const RSS_BOUND_BYTES = 350 * 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

test('a flooding app does not grow the server past a bound, and its drop marker appears', async (t) => {
  const d = await startDaemon(t, { config: CONFIG });
  const auth = { authorization: `Bearer ${d.token}` };
  assert.equal((await d.ten(['spawn', 'flood:loud'])).code, 0);
  assert.equal((await d.ten(['spawn', 'notes:quiet'])).code, 0);

  let peak = 0;
  const dropped = await waitFor(async () => {
    peak = Math.max(peak, rssBytes(d.proc.pid!));
    const metrics = (await d.http('/metrics', { headers: auth })).body;
    const n = Number(/^tenement_log_lines_total\{result="dropped"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    // Far more than the capture's queue holds: had they been kept, memory would have grown with them.
    return n >= 200_000 ? n : undefined;
  }, 60_000, '200,000 dropped lines');
  assert.ok(peak < RSS_BOUND_BYTES, `server RSS peaked at ${Math.round(peak / 1_048_576)} MB after ${dropped} dropped lines`);

  const markers = await waitFor(async () => {
    const r = await d.http('/api/logs?id=loud&search=lines%20dropped', { headers: auth });
    const lines = JSON.parse(r.body) as Array<{ line: string }>;
    return lines.length > 0 ? lines : undefined;
  }, 10_000, 'a drop marker');
  assert.match(markers[0]!.line, /^\[tenement\] \d+ lines dropped: over the log limit of \d+ lines\/s$/);

  const quiet = await d.http('/api/logs?id=quiet&stream=stdout&search=quiet-neighbour-alive', { headers: auth });
  assert.equal((JSON.parse(quiet.body) as unknown[]).length, 1);
});
