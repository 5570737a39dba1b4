// memory_limit_mb and cpu_shares are enforced by the kernel through cgroups (v1 and v2), an OOM
// kill is reported as one, the groups disappear when the instance does, and a host that cannot
// enforce a limit refuses it clearly.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenementError } from '../core/errors.js';
import { CgroupLimits, detectCgroups, type CgroupHost } from './cgroups.js';
import { cgroupPids, warmUpCgroup2Join } from './cgroup-fs.js';
import { CgroupV1Group } from './cgroups-v1.js';
import { CgroupV2Group } from './cgroups-v2.js';
import { ProcessRuntime } from './process.js';
import { readProcStat } from './proc-stat.js';
import type { AppliedLimits, SpawnSpec } from './runtime.js';
import { testSpawnSpec } from '../../test/helpers/spawn-spec.js';
import { isCgroupFrozen } from '../../test/helpers/freezer-state.js';
import { mountCgroup2, removeTestGroups } from '../../test/helpers/cgroups.js';
import { waitFor } from '../../test/helpers/wait.js';

const ALLOC_APP = new URL('../../test/fixtures/apps/iso-alloc.mjs', import.meta.url).pathname;

function spec(overrides: Partial<SpawnSpec> & { instance: string }): SpawnSpec {
  return testSpawnSpec(overrides.instance, [process.execPath, ALLOC_APP], overrides);
}

/** The directories an instance's group has on this host (one per v1 hierarchy). */
function groupDirs(host: CgroupHost, parent: string, service: string, id: string): string[] {
  if (host.version === 'v2') return [`${host.v2Root}/${parent}/${service}.${id}`];
  return Object.values(host.v1Mounts ?? {}).map((mount) => `${mount}/${parent}/${service}.${id}`);
}

/** CgroupLimits under a parent group of this test's own, removed (with anything a failed test left) afterwards. */
function testLimits(t: TestContext, root?: string): { limits: CgroupLimits; parent: string } {
  const parent = `tenement-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const limits = new CgroupLimits({ parent, ...(root === undefined ? {} : { root }) });
  t.after(() => removeTestGroups(limits, parent));
  return { limits, parent };
}

function isGone(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat === undefined || stat.state === 'Z';
}

test('this host offers memory, cpu and pids limits through some cgroup version', async () => {
  const host = await detectCgroups();
  assert.ok(host.version === 'v1' || host.version === 'v2', `cgroup version detected: ${host.version}`);
  assert.deepEqual([...host.controllers].sort(), ['cpu', 'memory', 'pids']);
});

test('an app allocating 4x its memory_limit_mb is OOM-killed and reported, and its cgroup removed', async (t) => {
  const { limits, parent } = testLimits(t);
  const runtime = new ProcessRuntime({ limits });
  const lines: string[] = [];
  const running = await runtime.start(spec({
    instance: 'iso:oom',
    memoryLimitMb: 64,
    env: { PATH: process.env.PATH ?? '', ALLOC_MB: '256', PORT: '0' },
    onLine: (_stream, line) => lines.push(line),
  }));
  t.after(() => running.stop(1000));

  const exit = await running.exited;
  assert.equal(exit.oomKilled, true);
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(!lines.includes('allocated 256 MB'), 'the app never got its 256 MB');
  for (const dir of groupDirs(await limits.detect(), parent, 'iso', 'oom')) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test('an app within its memory limit exits normally and is not called an OOM kill', async (t) => {
  const { limits } = testLimits(t);
  const runtime = new ProcessRuntime({ limits });
  const running = await runtime.start(spec({
    instance: 'iso:fits',
    memoryLimitMb: 256,
    argv: [process.execPath, '-e', 'process.exit(3)'],
  }));
  t.after(() => running.stop(1000));
  assert.deepEqual(await running.exited, { code: 3, signal: null, oomKilled: false });
});

test('cpu_shares becomes the cgroup weight of the running instance (100 = the default share)', async (t) => {
  const { limits, parent } = testLimits(t);
  const host = await limits.detect();
  const applied = await limits.apply({ instance: 'iso:cpu', memoryLimitMb: undefined, cpuShares: 50 });
  assert.ok(applied);
  t.after(() => applied.release());
  const argv = applied.wrapArgv(['sleep', '30']);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
  t.after(() => {
    if (!isGone(child.pid!)) process.kill(child.pid!, 'SIGKILL');
  });

  // Read where the kernel says the process is, as an operator would.
  const cgroupLine = await waitFor(async () => {
    const text = await readFile(`/proc/${child.pid}/cgroup`, 'utf8');
    const line = text.split('\n').find((l) => (host.version === 'v2' ? l.startsWith('0::') : /:cpu(,|:)/.test(l)));
    return line?.includes(`/${parent}/iso.cpu`) ? line : undefined;
  }, 10_000, 'the child to join its cgroup');
  const path = cgroupLine.split(':')[2]!;
  if (host.version === 'v2') {
    assert.equal((await readFile(`${host.v2Root}${path}/cpu.weight`, 'utf8')).trim(), '50');
  } else {
    assert.equal((await readFile(`${host.v1Mounts!.cpu}${path}/cpu.shares`, 'utf8')).trim(), '512');
  }

  const usage = await applied.usage();
  assert.ok(usage?.cpuSeconds !== undefined && usage.cpuSeconds >= 0, 'the group reports its CPU time');
  await applied.release();
  await waitFor(() => isGone(child.pid!), 10_000, 'the released group to be killed');
  for (const dir of groupDirs(host, parent, 'iso', 'cpu')) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test('an instance without limits still gets a cgroup: a stop ends a child that left its process group', async (t) => {
  const { limits } = testLimits(t);
  const runtime = new ProcessRuntime({ limits });
  let escaped: (pid: number) => void = () => undefined;
  const escapedPid = new Promise<number>((resolve) => (escaped = resolve));
  const running = await runtime.start(spec({
    instance: 'iso:setsid',
    argv: ['/bin/sh', '-c', 'setsid sleep 1000 > /dev/null 2>&1 & echo $!; exec sleep 1000'],
    onLine: (_stream, line) => escaped(Number(line)),
  }));
  t.after(() => running.stop(1000));
  const pid = await escapedPid;
  await waitFor(() => {
    const stat = readProcStat(pid);
    return stat !== undefined && stat.pgrp !== running.pid;
  }, 10_000, 'the setsid child to run in a session of its own');
  await running.stop(1000);
  assert.ok(isGone(pid), `the setsid child ${pid} is gone`);
});

test('an instance running as its own uid starts inside every group it needs: stop kills its setsid child, it freezes, its CPU time is read', async (t) => {
  const { limits, parent } = testLimits(t);
  const host = await limits.detect();
  const runtime = new ProcessRuntime({ limits });
  let lines: string[] = [];
  const running = await runtime.start(spec({
    instance: 'iso:own',
    user: { uid: 61184, gid: 61184 },
    // The app's first act is to print where it is, then leave a child in a session of its own.
    argv: ['/bin/sh', '-c', 'cat /proc/self/cgroup; setsid sleep 1000 > /dev/null 2>&1 & echo "escaped $!"; exec sleep 1000'],
    onLine: (_stream, line) => { lines = [...lines, line]; },
  }));
  t.after(() => running.stop(1000));
  const escaped = Number((await waitFor(() => lines.find((l) => l.startsWith('escaped ')), 10_000, 'the setsid child')).split(' ')[1]);
  const groupOf = (pattern: RegExp): string | undefined => lines.find((l) => pattern.test(l))?.split(':')[2];
  const expected = host.version === 'v2'
    ? [/^0::/]
    : (['memory', 'pids', 'cpuacct', 'freezer'] as const).filter((c) => host.v1Mounts?.[c] !== undefined).map((c) => new RegExp(`^\\d+:([^:]*,)?${c}(,[^:]*)?:`));
  assert.ok(expected.length > 0);
  for (const pattern of expected) assert.equal(groupOf(pattern), `/${parent}/iso.own`, `${pattern} line of ${lines.join(' | ')}`);

  const group = running.cgroup!;
  assert.ok(((await group.usage())?.cpuSeconds ?? -1) >= 0, 'the group reports its CPU time');
  await group.freeze();
  assert.equal(isCgroupFrozen(running.pid), true);
  assert.equal(isCgroupFrozen(escaped), true, 'the setsid child is frozen with it');
  await group.thaw();
  assert.equal(isCgroupFrozen(escaped), false);
  await running.stop(1000);
  assert.ok(isGone(escaped), `the setsid child ${escaped} is gone`);
});

test('the warm-up before a cgroup2 join leaves the server in the groups it is in', async (t) => {
  const { limits } = testLimits(t);
  const host = await limits.detect();
  assert.ok(host.v2Mount !== undefined, 'this host mounts cgroup2');
  const before = await readFile('/proc/self/cgroup', 'utf8');
  await warmUpCgroup2Join(host.v2Mount);
  assert.equal(await readFile('/proc/self/cgroup', 'utf8'), before);
  // A hierarchy that is not there is no error: the warm-up is only ever an optimisation.
  await warmUpCgroup2Join('/nonexistent-cgroup2-mount');
});

test('killAll ends a forking loop whole (v2 cgroup.kill, or v1 freeze, kill, thaw)', async (t) => {
  const { limits, parent } = testLimits(t);
  const host = await limits.detect();
  const settings = { pidsMax: host.controllers.has('pids') ? 200 : undefined };
  const relPath = `${parent}/iso.forks`;
  // On a v1 host with a freezer the group is made without its bare v2 twin, so the freezer is what kills.
  const group = host.v1Mounts?.freezer !== undefined
    ? await CgroupV1Group.create(host.v1Mounts, relPath, settings)
    : await CgroupV2Group.create(`${host.v2Root}/${relPath}`, settings);
  t.after(() => group.release());
  const argv = group.wrapArgv(['/bin/sh', '-c', 'while :; do sleep 100 & done']);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
  const listing = host.v1Mounts?.freezer !== undefined ? `${host.v1Mounts.freezer}/${relPath}` : `${host.v2Root}/${relPath}`;
  await waitFor(async () => (await cgroupPids(listing)).length > 20, 10_000, 'the loop to have forked');
  await group.killAll();
  assert.deepEqual(await cgroupPids(listing), [], 'nothing is left in the group');
  await waitFor(() => child.exitCode !== null || child.signalCode !== null, 10_000, 'the loop to be reaped');
});

test('a freezable instance gets a group that freezes and thaws it, and release kills it even while frozen', async (t) => {
  const { limits, parent } = testLimits(t);
  const host = await limits.detect();
  assert.equal(host.freezeMissing, undefined, 'this host can freeze');
  const applied = await limits.apply({ instance: 'iso:frz', memoryLimitMb: undefined, cpuShares: undefined, freezable: true });
  assert.ok(applied);
  t.after(() => applied.release());
  await assertFreezes(t, applied, parent, 'iso.frz');
  for (const dir of groupDirs(host, parent, 'iso', 'frz')) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test('a host without cgroups refuses a memory limit, saying what is missing and how to get it', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'tenement-nocgroup-'));
  t.after(() => rm(empty, { recursive: true, force: true }));
  const limits = new CgroupLimits({ root: empty });
  assert.equal((await limits.detect()).version, null);
  await assert.rejects(limits.apply({ instance: 'iso:a', memoryLimitMb: 64, cpuShares: undefined }), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'isolation_unavailable');
    assert.match(err.message, /^memory_limit_mb needs the cgroup memory controller, which this host does not offer \(.*mount cgroup2/);
    return true;
  });
  await assert.rejects(limits.check({ memoryLimitMb: undefined, cpuShares: 10 }), /cpu_shares needs the cgroup cpu controller/);
  await assert.rejects(limits.check({ memoryLimitMb: undefined, cpuShares: undefined, freezable: true }), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'isolation_unavailable');
    assert.match(err.message, /^freeze_after needs a cgroup freezer, which this host does not offer \(no cgroup filesystem is mounted/);
    return true;
  });
});

test('a server without cgroups refuses freeze_after at spawn, naming the key', async () => {
  await assert.rejects(new ProcessRuntime().start(spec({ instance: 'iso:nofreeze', freezable: true })), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'isolation_unavailable');
    assert.match(err.message, /^freeze_after needs cgroups, which this server runs without$/);
    return true;
  });
});

test('cgroup v2: a group freezes (cgroup.events says frozen) and thaws through cgroup.freeze', async (t) => {
  const mountPoint = await mountCgroup2(t);
  const parent = `tenement-test-${process.pid}-v2freeze`;
  await mkdir(`${mountPoint}/${parent}`, { recursive: true });
  const group = await CgroupV2Group.create(`${mountPoint}/${parent}/iso.f`, {});
  t.after(() => group.release());
  await assertFreezes(t, group, parent, 'iso.f');
  assert.equal(existsSync(`${mountPoint}/${parent}/iso.f`), false);
});

/**
 * cgroup v2 on a cgroup2 hierarchy this test mounts itself. On a v2 host it offers the memory
 * controller and the OOM kill is checked end to end. On a hybrid host (like the dev VM: memory,
 * cpu and pids are bound to v1 hierarchies, and a controller can only live in one) the same
 * mount offers none of them, so the limit must be refused, naming why.
 */
test('cgroup v2: a memory limit is enforced, or refused clearly when v2 lacks the controller', async (t) => {
  const mountPoint = await mountCgroup2(t);
  const { limits, parent } = testLimits(t, mountPoint);
  const host = await limits.detect();
  assert.equal(host.version, 'v2');

  if (!host.controllers.has('memory')) {
    await assert.rejects(limits.apply({ instance: 'iso:v2', memoryLimitMb: 64, cpuShares: undefined }), (err: unknown) => {
      assert.ok(err instanceof TenementError);
      assert.equal(err.code, 'isolation_unavailable');
      assert.match(err.message, /memory_limit_mb needs the cgroup memory controller, which this host does not offer \(its cgroup2 hierarchy does not list it/);
      return true;
    });
    return;
  }
  const running = await new ProcessRuntime({ limits }).start(spec({
    instance: 'iso:v2',
    memoryLimitMb: 64,
    env: { PATH: process.env.PATH ?? '', ALLOC_MB: '256', PORT: '0' },
  }));
  t.after(() => running.stop(1000));
  assert.equal((await running.exited).oomKilled, true);
  assert.equal(existsSync(`${mountPoint}/${parent}/iso.v2`), false);
});

test('cgroup v2: every process of an instance is in its group, and release kills them all and removes it', async (t) => {
  const mountPoint = await mountCgroup2(t);
  const parent = `tenement-test-${process.pid}-v2group`;
  await mkdir(`${mountPoint}/${parent}`, { recursive: true });
  const group = await CgroupV2Group.create(`${mountPoint}/${parent}/iso.a`, {});
  t.after(() => group.release());

  const argv = group.wrapArgv(['/bin/sh', '-c', 'sleep 300 & sleep 300 & wait']);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
  t.after(() => {
    if (!isGone(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
  });
  const pids = await waitFor(async () => {
    const list = (await readFile(`${mountPoint}/${parent}/iso.a/cgroup.procs`, 'utf8')).trim().split('\n').map(Number);
    return list.length === 3 ? list : undefined;
  }, 10_000, 'three processes in the group');
  assert.ok(pids.includes(child.pid!));
  assert.match(await readFile(`/proc/${child.pid}/cgroup`, 'utf8'), new RegExp(`^0::/${parent}/iso\\.a$`, 'm'));

  await group.release();
  await group.release();
  for (const pid of pids) await waitFor(() => isGone(pid), 10_000, `process ${pid} to be killed`);
  assert.equal(existsSync(`${mountPoint}/${parent}/iso.a`), false);
});

/**
 * Runs a process in `group`; checks freeze stops it (the kernel says frozen, a signal is not
 * acted on), thaw resumes it, and release of a frozen group still kills it and removes it.
 */
async function assertFreezes(t: TestContext, group: AppliedLimits, parent: string, name: string): Promise<void> {
  // The shell writes a line whenever it gets SIGUSR1: a frozen one cannot.
  const argv = group.wrapArgv(['/bin/sh', '-c', 'trap "echo usr1" USR1; echo ready; while :; do sleep 0.05; done']);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  t.after(() => {
    if (!isGone(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  await waitFor(async () => out.includes('ready') && (await readFile(`/proc/${child.pid}/cgroup`, 'utf8')).includes(`/${parent}/${name}`),
    10_000, 'the child to start in its group');

  await group.freeze();
  assert.equal(isCgroupFrozen(child.pid!), true);
  process.kill(child.pid!, 'SIGUSR1');
  // Running, the shell would answer within one 50 ms sleep; frozen, it stays silent.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(out.includes('usr1'), false, 'a frozen process handles no signal');
  await group.thaw();
  assert.equal(isCgroupFrozen(child.pid!), false);
  await waitFor(() => out.includes('usr1'), 10_000, 'the pending signal to be handled after the thaw');

  await group.freeze();
  await group.release();
  await waitFor(() => isGone(child.pid!), 10_000, 'the frozen process to be killed by release');
}
