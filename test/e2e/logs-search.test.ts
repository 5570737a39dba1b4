// `ten logs` and GET /api/logs against a real server: markers found (also after a restart), stderr
// marked, filters combined, FTS syntax harmless, -f live, tenant tokens scoped to their own logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startDaemon, TEN, waitFor, type Daemon } from '../helpers/daemon.js';

const config = (marker: string): string => `
[service.notes]
command = "node {apps}/log-marker.mjs"
health = "/health"
[service.notes.env]
MARKER = "${marker}"
`;

async function logs(d: Daemon, query: string, token = d.token): Promise<{ status: number; lines: Array<{ instance: string; stream: string; line: string }> }> {
  const r = await d.http(`/api/logs?${query}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, lines: r.status === 200 ? JSON.parse(r.body) : [] };
}

test('a marker an app printed is found by ten logs --search, and still after the server restarts', async (t) => {
  const marker = `marker-${randomBytes(4).toString('hex')}`;
  const first = await startDaemon(t, { config: config(marker) });
  assert.equal((await first.ten(['spawn', 'notes:alice'])).code, 0);

  const found = await waitFor(async () => {
    const r = await first.ten(['logs', 'notes:alice', '--search', marker]);
    return r.stdout.includes('stderr |') ? r : undefined;
  }, 10_000, 'the marker in ten logs');
  assert.equal(found.code, 0, found.stderr);
  const lines = found.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, found.stdout);
  assert.match(lines[0]!, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z notes:alice stdout \\| ${marker}$`));
  assert.match(lines[1]!, new RegExp(`^\\S+ notes:alice stderr \\| ${marker} on stderr$`));

  const onlyStderr = await first.ten(['logs', 'notes:alice', '--search', marker, '--stream', 'stderr', '--json']);
  assert.deepEqual((JSON.parse(onlyStderr.stdout) as Array<{ line: string }>).map((l) => l.line), [`${marker} on stderr`]);

  const events = await first.ten(['logs', 'notes:alice', '--stream', 'event']);
  assert.match(events.stdout, /notes:alice event {2}\| spawn: /);
  assert.match(events.stdout, /notes:alice event {2}\| ready: /);

  assert.equal(await first.stop(), 0);
  const second = await startDaemon(t, { config: config('another-marker'), dir: first.dir });
  const after = await second.ten(['logs', 'notes', '--search', marker]);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, new RegExp(`notes:alice stdout \\| ${marker}\\n`));
});

test('filters combine, search text is never FTS syntax, and tenant tokens see only their own logs', async (t) => {
  const d = await startDaemon(t, { config: config('boot') });
  for (const id of ['alice', 'bob']) assert.equal((await d.ten(['spawn', `notes:${id}`])).code, 0);
  for (const [id, text] of [['alice', 'payment failed 1'], ['bob', 'payment failed 2'], ['alice', 'unrelated']] as const) {
    assert.equal((await d.http(`/say?text=${encodeURIComponent(text)}`, { host: `${id}.notes.localhost` })).status, 200);
  }
  await d.http('/payment', { host: 'alice.notes.localhost' });

  await t.test('service, id, stream and words together', async () => {
    const r = await waitFor(async () => {
      const got = await logs(d, 'process=notes&id=alice&stream=stderr&search=payment&since=10m');
      return got.lines.length > 0 ? got : undefined;
    }, 10_000, 'the said lines');
    assert.deepEqual(r.lines.map((l) => `${l.instance} ${l.stream} ${l.line}`), ['notes:alice stderr said payment failed 1']);
    const limited = await logs(d, 'service=notes&limit=1');
    assert.equal(limited.lines.length, 1);
  });

  await t.test('FTS metacharacters neither error nor match everything', async () => {
    const all = await logs(d, 'limit=10000');
    for (const search of ['"foo* OR', 'payment OR boot', 'NEAR(a b)', '*', 'id:alice']) {
      const r = await logs(d, `search=${encodeURIComponent(search)}`);
      assert.equal(r.status, 200, search);
      assert.ok(r.lines.length < all.lines.length, `${search} matched everything`);
    }
  });

  await t.test('bad filters are input errors', async () => {
    const r = await d.ten(['logs', 'notes:alice', '--since', 'yesterday']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: invalid since "yesterday"/);
    assert.equal((await logs(d, 'id=Bad.Id')).status, 400);
    assert.equal((await logs(d, 'limit=0')).status, 400);
  });

  await t.test('a tenant token reads only its own id', async () => {
    const gen = await d.ten(['--data-dir', d.dataDir, 'token-gen', '--tenant', 'alice']);
    assert.equal(gen.code, 0, gen.stderr);
    const tenant = gen.stdout.trim();
    const own = await logs(d, 'search=payment', tenant);
    // alice logged "said payment failed 1" and "request /payment"; bob's line is not shown.
    assert.deepEqual([...new Set(own.lines.map((l) => l.instance))], ['notes:alice']);
    assert.equal(own.lines.length, 2);
    assert.equal((await logs(d, 'id=bob', tenant)).status, 403);
    const cli = await d.ten(['logs', 'notes:bob'], { TENEMENT_TOKEN: tenant });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^error: this token may only read instances with id "alice"/);
  });

  await t.test('ten logs -f prints a new line as it is logged', async (tt) => {
    const follower = spawn(process.execPath, [TEN, 'logs', 'notes:alice', '-f', '--stream', 'stderr'], {
      env: { ...process.env, TENEMENT_SERVER: d.url, TENEMENT_TOKEN: d.token }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    tt.after(() => { if (follower.exitCode === null) process.kill(follower.pid!, 'SIGKILL'); });
    let out = '';
    follower.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    await waitFor(() => out.includes('said payment failed 1'), 10_000, () => `the history before following:\n${out}`);
    const live = `live-${randomBytes(3).toString('hex')}`;
    await d.http(`/say?text=${live}`, { host: 'alice.notes.localhost' });
    await waitFor(() => out.includes(`notes:alice stderr | said ${live}`), 2_000, () => `the live line within 2 s:\n${out}`);
    assert.ok(!out.includes('stdout |'), 'the stream filter applies while following');
  });
});
