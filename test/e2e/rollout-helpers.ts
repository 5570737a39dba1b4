/**
 * Shared bits of the `ten rollout` end-to-end tests: a service of N instances of the "versioned"
 * fixture app (each answers its VERSION), traffic to all of them while a rollout runs, and what
 * each instance runs now.
 * @module
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { APPS, waitFor, type Daemon } from '../helpers/daemon.js';

export const IDS = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);

/**
 * `notes` with `ids` registered at boot. `env`: the template's env (VERSION, BROKEN). Error rates
 * are judged from 5 requests on. Latency is left out (max_p95_ratio 1000): on a machine this
 * loaded a freshly started process's p95 is noise; the p95 rule has its unit tests.
 */
export function notesConfig(env: string, ids: readonly string[] = IDS): string {
  return `
[service.notes]
command = "node {apps}/versioned.mjs"
health = "/health"
idle_timeout = 0
startup_timeout = 3
env = { ${env} }

[service.notes.rollout]
min_requests = 5
max_p95_ratio = 1000

[instances]
notes = [${ids.map((id) => `"${id}"`).join(', ')}]
`;
}

export function writeConfig(d: Daemon, text: string): void {
  writeFileSync(d.configFile, text.replaceAll('{apps}', APPS));
}

export interface Listed { instance: string; id: string; state: string; pid: number | null; outdated: boolean }

export async function api<T>(d: Daemon, path: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T }> {
  const r = await d.http(path, {
    method, headers: { authorization: `Bearer ${d.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: JSON.parse(r.body) as T };
}

export async function listed(d: Daemon): Promise<Listed[]> {
  const r = await api<Listed[]>(d, '/api/instances');
  assert.equal(r.status, 200);
  return r.body.filter((i) => i.instance.startsWith('notes:'));
}

/** Waits until `count` notes instances run (the boot starts them in parallel). */
export async function allRunning(d: Daemon, count: number): Promise<Listed[]> {
  return waitFor(async () => {
    const now = await listed(d);
    return now.filter((i) => i.state === 'running').length === count ? now : undefined;
  }, 60_000, 'every instance running');
}

/** What every instance answers now, by id (status and body). */
export async function answers(d: Daemon, ids: readonly string[] = IDS): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(ids.map(async (id) => {
    const r = await d.http('/', { host: `${id}.notes.localhost` });
    out.set(id, `${r.status} ${r.body}`);
  }));
  return out;
}

/**
 * Requests to every instance in turn (4 at a time) until `done()` says stop, bounded by `maxMs`
 * and 50 000 requests. Resolves with how many it sent.
 */
export async function trafficUntil(d: Daemon, done: () => boolean, maxMs: number, ids: readonly string[] = IDS): Promise<number> {
  const deadline = Date.now() + maxMs;
  let sent = 0;
  const worker = async (offset: number): Promise<void> => {
    for (let i = offset; !done() && Date.now() < deadline && sent < 50_000; i += 4) {
      sent++;
      await d.http('/', { host: `${ids[i % ids.length]}.notes.localhost`, timeoutMs: 10_000 }).catch(() => undefined);
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return sent;
}
