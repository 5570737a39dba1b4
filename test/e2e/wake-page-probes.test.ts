// Slow wakes and probe traffic through the real `ten serve`: a browser waiting on a slow start
// gets a small self-refreshing waiting page while an API client is held for the real answer; a
// service's own page template is used; requests idle_ignore names neither wake an instance nor
// keep it awake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import { stateOf, through, waitForState } from './proxy-helpers.js';

const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' };

const SLOW = (extra = '') => `
[service.slow]
command = "node {apps}/wake-app.mjs"
startup_timeout = 15
stop_timeout = 2
${extra}

[service.slow.env]
START_DELAY_MS = "3000"
`;

async function spawnAndStop(d: Awaited<ReturnType<typeof startDaemon>>, name: string): Promise<void> {
  const spawned = await d.ten(['spawn', name]);
  assert.equal(spawned.code, 0, spawned.stderr);
  assert.equal((await d.ten(['stop', name])).code, 0);
}

test('a slow start gives a browser the waiting page and an API client the real answer', async (t) => {
  const d = await startDaemon(t, { config: SLOW() });
  await spawnAndStop(d, 'slow:a');

  const [page, api] = await Promise.all([
    through(d, 'a.slow.localhost', '/', { headers: BROWSER }),
    through(d, 'a.slow.localhost', '/', { headers: { accept: 'application/json' } }),
  ]);
  assert.equal(page.status, 503);
  assert.equal(page.headers['retry-after'], '1');
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.equal(page.headers['cache-control'], 'no-store');
  const html = page.body.toString();
  assert.match(html, /<meta http-equiv="refresh" content="1">/);
  assert.match(html, /Starting slow:a/);
  const elapsed = /\((\d+\.\d) s so far\)/.exec(html);
  assert.ok(elapsed !== null && Number(elapsed[1]) >= 1, `elapsed time shown: ${html}`);
  assert.doesNotMatch(html, /(src|href)\s*=|url\(|@import/i, 'no external assets');
  assert.ok(page.body.length < 4096, 'small');

  assert.equal(api.status, 200, 'the API client was held until the app answered');
  assert.equal(api.body.toString(), 'hello');
  const after = await through(d, 'a.slow.localhost', '/', { headers: BROWSER });
  assert.equal(after.status, 200, 'the refresh gets the app once it is up');

  // HEAD gets the page's head without a body.
  assert.equal((await d.ten(['stop', 'slow:a'])).code, 0);
  const head = await through(d, 'a.slow.localhost', '/', { method: 'HEAD', headers: BROWSER });
  assert.equal(head.status, 503);
  assert.equal(head.body.length, 0);
  await waitForState(d, 'slow:a', 'running');
});

test('wake_page_after = 0 holds browsers too, and a service can bring its own page', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'wait.html'), '<p>{{instance}} wakes, {{ elapsed }} s, back in {{retry_after}} s</p>\n');
  const d = await startDaemon(t, {
    config: `${SLOW('wake_page_after = 0')}\n${SLOW(`wake_page = "${join(dir, 'wait.html')}"\nwake_page_after = 0.5`).replace('service.slow', 'service.custom').replace('service.slow.env', 'service.custom.env')}`,
  });
  await spawnAndStop(d, 'slow:a');
  await spawnAndStop(d, 'custom:b');

  const [held, custom] = await Promise.all([
    through(d, 'a.slow.localhost', '/', { headers: BROWSER }),
    through(d, 'b.custom.localhost', '/', { headers: BROWSER }),
  ]);
  assert.equal(held.status, 200, 'no page: the browser waited for the app');
  assert.equal(custom.status, 503);
  assert.match(custom.body.toString(), /^<p>custom:b wakes, \d+\.\d s, back in 1 s<\/p>\n$/);
});

test('a wake_page with an unknown placeholder stops ten serve before it binds, naming the key', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'wait.html'), '<p>{{instnace}}</p>');
  await assert.rejects(
    startDaemon(t, { config: SLOW(`wake_page = "${join(dir, 'wait.html')}"`) }),
    /exited with 2:\n(.*\n)*error: tenement\.toml: service\.slow\.wake_page: ".*wait\.html" unknown placeholder \{\{instnace\}\} \(use \{\{instance\}\}, \{\{elapsed\}\}, \{\{retry_after\}\}\)/,
  );
});

test('probes named by idle_ignore neither keep an instance awake nor wake it', async (t) => {
  const d = await startDaemon(t, {
    config: `
[service.app]
command = "node {apps}/wake-app.mjs"
health = "/health"
idle_timeout = 1.5
stop_timeout = 2
idle_ignore = ["/health", "UptimeRobot"]

[instances]
app = ["a"]
`,
  });
  await waitForState(d, 'app:a', 'running');

  // Probes every 100 ms, both kinds, all answered by the app while it runs; it idles regardless.
  let probing = true;
  const answered: number[] = [];
  const prober = (async () => {
    for (let i = 0; probing && i < 300; i++) {
      const [byPath, byAgent] = await Promise.all([
        through(d, 'a.app.localhost', '/health/db'),
        through(d, 'a.app.localhost', '/', { headers: { 'user-agent': 'Mozilla/5.0+(compatible; uptimerobot/2.0)' } }),
      ]);
      answered.push(byPath.status, byAgent.status);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await waitForState(d, 'app:a', 'idle', 15_000);
  probing = false;
  await prober;
  assert.ok(answered.filter((s) => s === 200).length >= 2, 'probes were forwarded while it ran');

  // Asleep: probes get 503 + Retry-After and it stays asleep.
  for (const [path, headers] of [['/health', {}], ['/', { 'user-agent': 'UptimeRobot/2.0' }]] as const) {
    const r = await through(d, 'a.app.localhost', path, { headers });
    assert.equal(r.status, 503, `${path} while asleep`);
    assert.ok(Number(r.headers['retry-after']) > 0);
  }
  assert.equal(await stateOf(d, 'app:a'), 'idle');
  assert.doesNotMatch((await d.ten(['logs', 'app:a'])).stdout, /started \(wake\)/);

  // "/healthy" is not "/health": a user's request wakes it.
  const user = await through(d, 'a.app.localhost', '/healthy');
  assert.equal(user.status, 200);
  await waitFor(async () => (await d.ten(['logs', 'app:a'])).stdout.includes('started (wake)'), 5000, 'the wake in the log');
});
