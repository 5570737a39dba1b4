// The dashboard in a real Chromium against a real `ten serve`: token form, live instance table,
// actions, weight editor (and the API's refusal), log panel, a rollout's and a canary's progress and controls,
// and the wrong-token message.
// Needs `npm run build` first (the server serves dist/dashboard).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Locator, type Page } from 'playwright-core';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/tenement-dashboard.png';
/** Upper bound for anything the page should show; generous for a busy 2-core machine. */
const UI_TIMEOUT_MS = 15_000;

// A stderr line with markup in it: the page must show it as text, never as HTML.
const STDERR_LINE = 'dashboard-marker <b>not bold</b>';

const CONFIG = `
[service.notes]
command = "node {apps}/ok.mjs"
health = "/health"
startup_timeout = 10
stop_timeout = 5

[service.notes.env]
STDERR_LINE = "${STDERR_LINE}"

[instances]
notes = ["alice", "bob"]
`;

function row(page: Page, instance: string): Locator {
  return page.locator(`tr[data-instance="${instance}"]`);
}

function badge(page: Page, instance: string): Locator {
  return row(page, instance).locator('.badge');
}

async function waitForText(locator: Locator, expected: string | RegExp): Promise<void> {
  await locator.filter({ hasText: expected }).first().waitFor({ state: 'visible' });
}

async function api(d: Daemon, method: string, path: string): Promise<void> {
  const r = await d.http(path, { method, headers: { authorization: `Bearer ${d.token}` } });
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
}

async function rolloutState(d: Daemon): Promise<string> {
  const r = await d.http('/api/rollouts/notes', { headers: { authorization: `Bearer ${d.token}` } });
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { state: string }).state;
}

test('the dashboard shows, drives and follows the instances', async (t) => {
  assert.ok(existsSync(join(ROOT, 'dist/dashboard/index.html')), 'dist/dashboard is missing: run `npm run build` first');
  const d = await startDaemon(t, { config: CONFIG });
  // A fresh profile, removed only after the browser has closed (it writes there until then).
  const userDataDir = mkdtempSync(join(tmpdir(), 'tenement-chromium-'));
  const removeProfile = (): void => rmSync(userDataDir, { recursive: true, force: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
  }).catch((err: unknown) => {
    removeProfile();
    throw err;
  });
  t.after(async () => {
    await context.close();
    removeProfile();
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // The page runs under its Content-Security-Policy header: anything it blocks is a bug.
  const cspViolations: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

  const response = await page.goto(`${d.url}/`);
  assert.match(response?.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
  assert.equal(response?.headers()['x-frame-options'], 'DENY');

  await t.test('a wrong token is refused with a clear message', async () => {
    await page.getByLabel('API token').fill('tnm_not-a-real-token');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await waitForText(page.locator('#token-error'), 'Token rejected');
    assert.match(await page.locator('#token-error').innerText(), /invalid API token/);
    assert.equal(await page.locator('#app').isVisible(), false);
  });

  await t.test('the right token shows the instances, and says where it is kept', async () => {
    assert.match(await page.locator('#token-note').innerText(), /session storage/);
    await page.getByLabel('API token').fill(d.token);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await waitForText(badge(page, 'notes:alice'), 'running');
    await waitForText(badge(page, 'notes:bob'), 'running');
    await waitForText(page.locator('#connection'), 'Live');
    assert.equal(await page.locator('#login').isVisible(), false);
    const cells = await row(page, 'notes:alice').locator('td').allInnerTexts();
    assert.equal(cells[1], 'healthy');
    assert.match(cells[2] ?? '', /^\d+$/, 'port');
    assert.equal(await row(page, 'notes:alice').locator('.weight-value').innerText(), '100');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tenement.apiToken')), d.token);
    await page.reload();
    await waitForText(badge(page, 'notes:alice'), 'running');
    assert.equal(await page.locator('#login').isVisible(), false, 'a reload keeps the session');
  });

  await t.test('a change made elsewhere reaches the table through the event stream', async () => {
    // The page's fallback poll is 30 s; seeing this sooner means the live events delivered it.
    await api(d, 'POST', '/api/instances/notes:bob/stop');
    await badge(page, 'notes:bob').filter({ hasText: 'stopped' }).waitFor({ timeout: 10_000 });
    await api(d, 'POST', '/api/instances/notes:bob/start');
    await badge(page, 'notes:bob').filter({ hasText: 'running' }).waitFor({ timeout: 10_000 });
  });

  await t.test('instances still on the template from before a reload are marked outdated', async () => {
    const tag = row(page, 'notes:bob').locator('.outdated-tag');
    assert.equal(await tag.isVisible(), false);
    writeFileSync(d.configFile, readFileSync(d.configFile, 'utf8').replace('stop_timeout = 5', 'stop_timeout = 6'));
    await api(d, 'POST', '/api/reload');
    // The reload's event refreshes the table (the fallback poll is 30 s).
    await tag.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await api(d, 'POST', '/api/instances/notes:bob/restart');
    await tag.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  });

  await t.test('stop and start buttons act on the instance', async () => {
    await page.getByRole('button', { name: 'Stop notes:alice', exact: true }).click();
    await waitForText(badge(page, 'notes:alice'), 'stopped');
    assert.equal(await row(page, 'notes:alice').locator('td').nth(2).innerText(), '–', 'no port once stopped');
    await page.getByRole('button', { name: 'Start notes:alice', exact: true }).click();
    await waitForText(badge(page, 'notes:alice'), 'running');
  });

  await t.test('the weight editor sets a weight and shows the API refusing a bad one', async () => {
    const weightInput = page.getByLabel('New weight for notes:alice (0 to 100)');
    await weightInput.fill('40');
    await weightInput.press('Enter');
    await waitForText(row(page, 'notes:alice').locator('.weight-value'), /^40$/);
    await waitForText(page.locator('#message'), 'Weight of notes:alice set to 40');

    await weightInput.fill('150');
    await page.getByRole('button', { name: 'Set weight of notes:alice', exact: true }).click();
    await waitForText(page.locator('#message.error'), 'weight must be a whole number from 0 to 100');
    assert.equal(await weightInput.getAttribute('aria-invalid'), 'true');
    assert.equal(await row(page, 'notes:alice').locator('.weight-value').innerText(), '40');

    await weightInput.fill('abc');
    await weightInput.press('Enter');
    await waitForText(page.locator('#message.error'), 'weight must be a whole number');
  });

  await t.test('the log panel shows what the instance printed, stderr marked, as text', async () => {
    await page.getByRole('button', { name: 'Show logs of notes:alice', exact: true }).click();
    await waitForText(page.locator('#logs-title'), 'Logs of notes:alice');
    const lines = page.locator('#log-lines li');
    await waitForText(lines, /listening on \d+/);
    const stderrLine = lines.filter({ hasText: 'dashboard-marker' }).first();
    await stderrLine.waitFor();
    assert.match(await stderrLine.getAttribute('class') ?? '', /\bstderr\b/);
    assert.equal(await stderrLine.locator('.tag').innerText(), 'stderr');
    assert.equal(await stderrLine.locator('.log-text').innerText(), STDERR_LINE);
    assert.equal(await page.locator('#log-lines b').count(), 0, 'a log line must not become markup');
  });

  await t.test('a running rollout shows its progress, and Pause and Abort act on the server', async () => {
    const panel = page.locator('li[data-rollout="notes"]');
    assert.equal(await page.locator('#changes').isVisible(), false, 'no panel before the first rollout');
    writeFileSync(d.configFile, readFileSync(d.configFile, 'utf8').replace(/stop_timeout = \d+/, 'stop_timeout = 7'));
    await api(d, 'POST', '/api/reload');
    // Cohort 1 moves one of the two instances, then waits its interval: long enough to act on it.
    const started = await d.http('/api/rollouts', {
      method: 'POST', headers: { authorization: `Bearer ${d.token}` }, body: JSON.stringify({ service: 'notes', cohorts: [50, 100], interval: 120 }),
    });
    assert.equal(started.status, 201, started.body);
    await waitForText(panel.locator('.change-summary'), 'cohort 1/2 · 1/2 moved');
    await waitForText(panel.locator('.badge'), 'running');
    assert.equal(await panel.locator('progress').getAttribute('aria-label'), 'Instances of notes moved');

    await page.getByRole('button', { name: 'Pause rollout of notes', exact: true }).click();
    await waitForText(panel.locator('.badge'), 'paused');
    assert.equal(await rolloutState(d), 'paused', 'the server has it paused');
    assert.equal(await page.getByRole('button', { name: 'Pause rollout of notes', exact: true }).getAttribute('aria-disabled'), 'true');

    await page.getByRole('button', { name: 'Resume rollout of notes', exact: true }).click();
    await waitForText(panel.locator('.badge'), 'running');
    assert.equal(await rolloutState(d), 'running');

    await page.getByRole('button', { name: 'Abort rollout of notes', exact: true }).click();
    await waitForText(panel.locator('.badge'), 'aborted');
    assert.equal(await rolloutState(d), 'aborted');
  });

  await t.test('a canary deploy shows its step, and Abort rolls it back on the server', async () => {
    const item = page.locator('li[data-canary="notes"]');
    const started = await d.http('/api/deploy', {
      method: 'POST', headers: { authorization: `Bearer ${d.token}` }, body: JSON.stringify({ service: 'notes', version: 'carol', canary: [50], interval: 120 }),
    });
    assert.equal(started.status, 202, started.body);
    await waitForText(item.locator('.change-summary'), 'step 1/1 · 50 % of the traffic');
    await waitForText(item.locator('.instance-name'), 'notes:carol');
    await page.getByRole('button', { name: 'Abort canary of notes', exact: true }).click();
    await waitForText(item.locator('.badge'), 'rolled back');
    await waitForText(item.locator('.change-reason'), 'aborted by the operator');
    await waitForText(item.locator('.change-summary'), 'stopped at step 1/1 · no traffic');
    const status = await d.http('/api/deploys/notes', { headers: { authorization: `Bearer ${d.token}` } });
    assert.equal((JSON.parse(status.body) as { state: string }).state, 'rolled_back');
    await waitForText(row(page, 'notes:carol').locator('.weight-value'), /^0$/);
  });

  await t.test('the page looks right', async () => {
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(cspViolations, []);
  });

  await t.test('forgetting the token returns to the form and clears the session', async () => {
    await page.getByRole('button', { name: 'Forget token', exact: true }).click();
    await page.getByLabel('API token').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#app').isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tenement.apiToken')), null);
  });
});
