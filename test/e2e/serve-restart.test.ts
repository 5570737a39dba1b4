// Restarting `ten serve` keeps tenants: after SIGTERM (and after a SIGKILL of the server) the next
// server adopts the same processes instead of starting new ones, and the output they wrote while
// no server ran is stored: a tenant printing a counter every 10 ms leaves no gap in the stored
// sequence. `--stop-instances-on-exit` keeps the old behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';

const CONFIG = `
[service.count]
command = "node {apps}/counter.mjs"
health = "/health"
idle_timeout = 0
`;

interface Listed { instance: string; pid: number | null; state: string }

async function running(d: Daemon): Promise<Listed[]> {
  const r = await d.ten(['ps', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Listed[]).filter((i) => i.state === 'running');
}

/** `instance pid` of the running instances, once `count` of them run (adoption is health-checked first). */
async function adopted(d: Daemon, count: number): Promise<string[]> {
  const list = await waitFor(async () => {
    const now = await running(d);
    return now.length === count ? now : undefined;
  }, 15_000, 'the instances running');
  return list.map((i) => `${i.instance} ${i.pid}`);
}

async function ticks(d: Daemon, instance: string): Promise<number[]> {
  const r = await d.ten(['logs', instance, '--stream', 'stdout', '--limit', '10000', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ line: string }>).map((l) => Number(/^tick (\d+)$/.exec(l.line)?.[1] ?? NaN));
}

/** The stored counter values from 1 up: every number there, none missing. */
function assertNoGap(values: number[], instance: string): void {
  assert.ok(values.every((v) => Number.isInteger(v)), `${instance}: only tick lines`);
  const seen = [...new Set(values)].sort((a, b) => a - b);
  assert.equal(seen[0], 1, `${instance}: starts at tick 1`);
  const missing = seen.filter((v, i) => i > 0 && v !== seen[i - 1]! + 1);
  assert.deepEqual(missing, [], `${instance}: ticks after a gap`);
}

test('a restarted server adopts the running tenants and loses none of their output lines', async (t) => {
  const first = await startDaemon(t, { config: CONFIG, keepInstances: true });
  for (const id of ['a', 'b']) assert.equal((await first.ten(['spawn', `count:${id}`])).code, 0);
  const pids = (await running(first)).map((i) => `${i.instance} ${i.pid}`);
  assert.equal(pids.length, 2);
  await waitFor(async () => (await ticks(first, 'count:a')).length >= 30, 15_000, 'ticks stored');

  // SIGTERM: the server exits, the tenants keep running and printing.
  assert.equal(await first.stop(), 0);
  assert.match(first.output(), /tenement stopped; 2 instances still run and the next ten serve adopts them/);
  for (const p of pids) assert.ok(isAlive(Number(p.split(' ')[1])), `${p} outlived the server`);

  const second = await startDaemon(t, { config: CONFIG, dir: first.dir, keepInstances: true });
  assert.deepEqual(await adopted(second, pids.length), pids, 'the same processes, adopted');
  const beforeCrash = (await ticks(second, 'count:a')).length;
  await waitFor(async () => (await ticks(second, 'count:a')).length >= beforeCrash + 30, 15_000, 'ticks stored after the restart');
  const hello = await second.http('/', { host: 'b.count.localhost' });
  assert.equal(hello.status, 200);
  assert.match(hello.body, /^tick \d+ from count:b$/);

  // SIGKILL: nothing runs on the way out; the next server still adopts and catches up.
  await second.crash();
  const third = await startDaemon(t, { config: CONFIG, dir: first.dir });
  assert.deepEqual(await adopted(third, pids.length), pids, 'the same processes after a crash');
  const afterCrash = (await ticks(third, 'count:a')).length;
  await waitFor(async () => (await ticks(third, 'count:a')).length >= afterCrash + 30, 15_000, 'ticks stored after the crash');
  for (const instance of ['count:a', 'count:b']) assertNoGap(await ticks(third, instance), instance);

  // This server was started with --stop-instances-on-exit: it stops them as ten serve used to.
  assert.equal(await third.stop(), 0);
  assert.match(third.output(), /stopping instances…/);
  for (const p of pids) assert.ok(!isAlive(Number(p.split(' ')[1])), `${p} was stopped with the server`);
});

test('output a tenant wrote after the server died is stored even when the tenant died too', async (t) => {
  const first = await startDaemon(t, { config: CONFIG, keepInstances: true });
  assert.equal((await first.ten(['spawn', 'count:a'])).code, 0);
  const [tenant] = await running(first);
  await waitFor(async () => (await ticks(first, 'count:a')).length >= 30, 15_000, 'ticks stored');
  await first.crash();
  // With no server, it prints on for a while, then goes.
  const file = join(first.dataDir, '.output', 'count.a.stdout');
  const printed = (): number => Number(/tick (\d+)\n$/.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
  const atCrash = printed();
  await waitFor(() => printed() >= atCrash + 30, 15_000, 'ticks written while no server runs');
  process.kill(tenant!.pid!, 'SIGTERM');
  await waitFor(() => !isAlive(tenant!.pid!), 15_000, 'the tenant gone');
  const last = printed();

  const second = await startDaemon(t, { config: CONFIG, dir: first.dir });
  const [replaced] = await waitFor(async () => {
    const now = await running(second);
    return now.length === 1 ? now : undefined;
  }, 15_000, 'count:a running again');
  assert.notEqual(replaced!.pid, tenant!.pid);
  const stored = new Set(await ticks(second, 'count:a'));
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((n) => !stored.has(n));
  assert.deepEqual(missing, [], `ticks 1..${last} of the first process all stored`);
});

test('an instance on an outdated template is still marked outdated after the server restarts', async (t) => {
  const first = await startDaemon(t, { config: CONFIG, keepInstances: true });
  assert.equal((await first.ten(['spawn', 'count:a'])).code, 0);
  writeFileSync(first.configFile, `${readFileSync(first.configFile, 'utf8')}env = { MODE = "new" }\n`);
  assert.equal((await first.ten(['reload'])).code, 0);
  const outdated = async (d: Daemon): Promise<string> => {
    const [i] = JSON.parse((await d.ten(['ps', '--json'])).stdout) as Array<{ pid: number; outdated: boolean }>;
    return `${i!.pid} ${i!.outdated}`;
  };
  const before = await outdated(first);
  assert.match(before, / true$/);
  assert.equal(await first.stop(), 0);

  const second = await startDaemon(t, { config: readFileSync(first.configFile, 'utf8'), dir: first.dir });
  await waitFor(async () => (await running(second)).length === 1, 15_000, 'count:a adopted');
  assert.equal(await outdated(second), before, 'the same process, still outdated');
  assert.equal((await second.ten(['restart', 'count:a'])).code, 0);
  assert.match(await outdated(second), / false$/);
});
