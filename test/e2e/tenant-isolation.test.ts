// A compromised tenant (test/fixtures/apps/hostile.mjs) tries, at each isolation level, what an
// attacker inside one instance would: read tenement's token, store and config, a sibling's
// DATA_DIR, /etc/shadow; read a sibling's environ, kill it; unmount the namespace cover; connect
// straight to a sibling's port. Each must fail, while its own DATA_DIR and the proxy route work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Isolation } from '../../src/config/types.js';
import { isAlive, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/net.js';

/** Instances' ports: outside the kernel's ephemeral range, where the proxy's port is picked. */
const PORT_RANGE = '[21000, 22999]';

/**
 * The proxy's port, above 40000: the port fence is host-wide, so a server started in parallel with
 * the default port_range [30000, 40000] refuses tenants' connections to any port in that range,
 * this server's proxy included.
 */
async function proxyPort(): Promise<string[]> {
  for (;;) {
    const port = await freePort();
    if (port > 40000) return ['--port', String(port)];
  }
}

interface Sibling {
  readonly port: number;
  readonly pid: number;
}

interface Tenants {
  readonly d: Daemon;
  readonly b: Sibling;
  /** GET a route of `evil:<id>` through the proxy, as JSON. */
  ask(id: string, route: string, query?: Record<string, string | number>): Promise<Record<string, unknown>>;
}

async function startTenants(level: Isolation): Promise<Tenants> {
  const d = await startDaemon(undefined, { extraArgs: await proxyPort(), config: `
[settings]
port_range = ${PORT_RANGE}
[service.evil]
command = "node {apps}/hostile.mjs"
health = "/health"
isolation = "${level}"
startup_timeout = 30
stop_timeout = 2
[service.evil.env]
SECRET = "evil-{id}-secret"
` });
  for (const name of ['evil:a', 'evil:b']) {
    const r = await d.ten(['spawn', name]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
  const ps = JSON.parse((await d.ten(['ps', '--json'])).stdout) as Array<{ id: string; port: number; pid: number }>;
  const b = ps.find((i) => i.id === 'b')!;
  return {
    d,
    b: { port: b.port, pid: b.pid },
    ask: async (id, route, query = {}) => {
      const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
      const res = await d.http(`${route}?${search}`, { host: `${id}.evil.localhost` });
      assert.equal(res.status, 200, `${route}: ${res.body}`);
      return JSON.parse(res.body) as Record<string, unknown>;
    },
  };
}

async function stopDaemon(d: Daemon | undefined): Promise<void> {
  if (d === undefined) return;
  await d.stop();
  rmSync(d.dir, { recursive: true, force: true });
}

const LEVELS: readonly Isolation[] = ['process', 'namespace', 'sandbox'];

for (const level of LEVELS) {
  describe(`${level}: a compromised tenant`, () => {
    let tenants: Tenants;
    before(async () => {
      tenants = await startTenants(level);
    });
    after(() => stopDaemon(tenants?.d));

    test('runs as its own unprivileged uid, without capabilities, with no_new_privs', async () => {
      const a = await tenants.ask('a', '/whoami');
      const b = await tenants.ask('b', '/whoami');
      for (const who of [a, b]) {
        assert.ok((who.uid as number) >= 61184 && (who.uid as number) <= 65519, `uid ${String(who.uid)} is from uid_range`);
        assert.equal(who.gid, who.uid);
        assert.ok((who.groups as number[]).every((g) => g === who.gid), `no supplementary groups: ${JSON.stringify(who.groups)}`);
        const status = (who.status as string[]).join('\n');
        // gVisor's /proc/self/status has no CapAmb or NoNewPrivs line (both are set in its OCI spec).
        const sets = level === 'sandbox' ? ['CapInh', 'CapPrm', 'CapEff', 'CapBnd'] : ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'];
        for (const set of sets) assert.match(status, new RegExp(`^${set}:\\s+0+$`, 'm'), status);
        if (level !== 'sandbox') assert.match(status, /^NoNewPrivs:\s+1$/m);
      }
      assert.notEqual(a.uid, b.uid, 'each instance has its own uid');
    });

    test('cannot read tenement\'s token, store or config, a sibling\'s DATA_DIR or /etc/shadow; can read its own', async () => {
      const { d, ask } = tenants;
      const attempts = {
        token: join(d.dataDir, 'api_token'),
        store: join(d.dataDir, 'tenement.db'),
        config: d.configFile,
        sibling: join(d.dataDir, 'evil', 'b', 'secret.txt'),
        shadow: '/etc/shadow',
      };
      for (const [what, path] of Object.entries(attempts)) {
        const r = await ask('a', '/read', { path });
        // A sandbox sees an empty file where a secret file was covered; never the content.
        assert.ok(!('content' in r) || r.content === '', `${what} (${path}) was readable: ${JSON.stringify(r).slice(0, 200)}`);
      }
      assert.deepEqual(await ask('a', '/read', { path: join(d.dataDir, 'evil', 'a', 'secret.txt') }), { content: 'secret of evil:a' });
    });

    test('a direct connection to a sibling\'s port is refused, the proxy route works', async () => {
      const { b, d, ask } = tenants;
      assert.deepEqual(await ask('a', '/connect', { port: b.port }), { error: 'ECONNREFUSED' });
      assert.deepEqual(await ask('a', '/via-proxy', { port: d.port, host: 'b.evil.localhost' }), { status: 200, body: 'hello from evil:b' });
    });

    // In namespace and sandbox a PID namespace of its own already hid its siblings' processes.
    if (level === 'process') {
      test('cannot read a sibling\'s environ nor signal its process', async () => {
        const { b, ask, d } = tenants;
        const environ = await ask('a', '/environ', { pid: b.pid });
        assert.ok(!('content' in environ), `environ was readable: ${JSON.stringify(environ).slice(0, 200)}`);
        const signal = await ask('a', '/signal', { pid: b.pid });
        assert.deepEqual(signal, { error: 'EPERM' });
        assert.deepEqual(await ask('b', '/whoami').then((r) => typeof r.uid), 'number', 'the sibling still answers');
        const ps = JSON.parse((await d.ten(['ps', '--json'])).stdout) as Array<{ id: string; pid: number }>;
        assert.equal(ps.find((i) => i.id === 'b')?.pid, b.pid, 'with the same process');
      });
    }

    if (level === 'namespace') {
      test('cannot unmount the cover over the data dir, not even from a user namespace of its own', async () => {
        const { d, ask } = tenants;
        const r = await ask('a', '/umount', { path: d.dataDir }) as Record<string, { code: number | string; stderr: string }>;
        assert.notEqual(r.plain!.code, 0, `umount worked: ${JSON.stringify(r)}`);
        assert.notEqual(r.userns!.code, 0, `umount in a user namespace worked: ${JSON.stringify(r)}`);
        assert.deepEqual(await ask('a', '/list', { path: d.dataDir }), { entries: ['evil'] }, 'still covered');
      });
    }
  });
}

describe('process: what the host sees of a tenant', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon(undefined, { config: `
[settings]
port_range = ${PORT_RANGE}
[service.evil]
command = "node {apps}/hostile.mjs"
health = "/health"
stop_timeout = 2
[service.bomb]
command = "node {apps}/hostile.mjs"
health = "/health"
pids_limit = 64
` });
  });
  after(() => stopDaemon(d));
  const ask = async (host: string, route: string): Promise<Record<string, unknown>> => {
    const res = await d.http(route, { host });
    assert.equal(res.status, 200, res.body);
    return JSON.parse(res.body) as Record<string, unknown>;
  };

  test('a setsid child of an instance without limits dies on ten stop', async () => {
    assert.equal((await d.ten(['spawn', 'evil:s'])).code, 0);
    const { pid } = await ask('s.evil.localhost', '/setsid') as { pid: number };
    assert.ok(pid > 0 && isAlive(pid), `the setsid child runs (${pid})`);
    assert.equal((await d.ten(['stop', 'evil:s'])).code, 0);
    await waitFor(() => !isAlive(pid), 10_000, `setsid child ${pid} to be gone`);
  });

  test('an instance\'s memory metric counts what it started outside its process group', async () => {
    assert.equal((await d.ten(['spawn', 'evil:m'])).code, 0);
    await ask('m.evil.localhost', '/setsid-hog?mb=200');
    const auth = { authorization: `Bearer ${d.token}` };
    await waitFor(async () => {
      const metrics = (await d.http('/metrics', { headers: auth })).body;
      const line = /^tenement_instance_memory_bytes\{service="evil",instance="m"\} (\d+)/m.exec(metrics);
      return line !== null && Number(line[1]) > 200 * 1048576;
    }, 20_000, 'tenement_instance_memory_bytes of evil:m above 200 MiB');
    assert.equal((await d.ten(['stop', 'evil:m'])).code, 0);
  });

  test('a fork bomb gets at most pids_limit tasks and the server keeps answering', async () => {
    assert.equal((await d.ten(['spawn', 'bomb:x'])).code, 0);
    const r = await ask('x.bomb.localhost', '/forkbomb?n=200') as { started: number; error: string | null };
    assert.equal(r.error, 'EAGAIN', JSON.stringify(r));
    assert.ok(r.started < 64, `started ${r.started} children under pids_limit = 64`);
    assert.equal((await d.http('/health')).status, 200, 'the server answers');
    assert.equal((await d.ten(['stop', 'bomb:x'])).code, 0);
  });
});
