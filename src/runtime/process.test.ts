// The process isolation level: the shared runtime contract, plus finding processes a crashed
// server left behind without ever signalling a reused pid.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenementError } from '../core/errors.js';
import { ProcessRuntime } from './process.js';
import { isProcessRunning, readProcStat, readStartTime } from './proc-stat.js';
import { runRuntimeContract } from './runtime.contract.js';
import type { SpawnSpec } from './runtime.js';
import { testCgroupLimits } from '../../test/helpers/cgroups.js';
import { testSpawnSpec } from '../../test/helpers/spawn-spec.js';
import { waitFor } from '../../test/helpers/wait.js';

runRuntimeContract('process', () => new ProcessRuntime());

/** A process this test starts in its own group, as a previous server would have; killed in t.after. */
function spawnDetached(t: TestContext, argv: string[]): { child: ChildProcess; pid: number; startTime: number } {
  const [command, ...args] = argv;
  const child = spawn(command!, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = child.pid!;
  const startTime = readStartTime(pid)!;
  t.after(() => {
    if (isProcessRunning(pid, startTime)) process.kill(pid, 'SIGKILL');
  });
  return { child, pid, startTime };
}

function specFor(argv: string[], overrides: Partial<SpawnSpec> = {}): SpawnSpec {
  return testSpawnSpec('proc:test', argv, overrides);
}

test('startTime is the leader’s kernel start time, read right even when its name has spaces and parens', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tenement-proc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const oddName = join(dir, 'we) ird (x');
  await symlink('/bin/sleep', oddName);
  const proc = await new ProcessRuntime().start(specFor([oddName, '30']));
  t.after(() => proc.stop(1000));
  const stat = readProcStat(proc.pid);
  assert.ok(stat !== undefined);
  assert.equal(proc.startTime, stat.startTime);
  assert.equal(stat.pgrp, proc.pid, 'it leads its own process group');
  assert.equal(stat.ppid, process.pid);
  assert.ok(stat.startTime >= readStartTime(process.pid)!, 'it started after this test process');
});

test('reap stops a live process left by a crashed server', async (t) => {
  const orphan = spawnDetached(t, ['sleep', '30']);
  const wasReaped = await new ProcessRuntime().reap({ instance: 'proc:test', pid: orphan.pid, startTime: orphan.startTime }, 1000);
  assert.equal(wasReaped, true);
  assert.equal(isProcessRunning(orphan.pid, orphan.startTime), false);
});

test('reap stops what is left of a group whose leader is already gone', async (t) => {
  const leader = spawnDetached(t, ['sh', '-c', 'sleep 30 & echo $!']);
  const printed = await new Promise<string>((resolve) => leader.child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  const sleeperPid = Number(printed.trim());
  const sleeperStart = readStartTime(sleeperPid)!;
  t.after(() => {
    if (isProcessRunning(sleeperPid, sleeperStart)) process.kill(sleeperPid, 'SIGKILL');
  });
  if (leader.child.exitCode === null) await new Promise((resolve) => leader.child.once('exit', resolve));
  const wasReaped = await new ProcessRuntime().reap({ instance: 'proc:test', pid: leader.pid, startTime: leader.startTime }, 1000);
  assert.equal(wasReaped, true);
  assert.equal(isProcessRunning(sleeperPid, sleeperStart), false, 'the leftover child is gone');
});

test('reap never signals a pid now used by an unrelated process', async (t) => {
  const unrelated = spawnDetached(t, ['sleep', '30']);
  const stale = { instance: 'proc:test', pid: unrelated.pid, startTime: unrelated.startTime + 1 };
  assert.equal(await new ProcessRuntime().reap(stale, 200), false);
  assert.equal(isProcessRunning(unrelated.pid, unrelated.startTime), true, 'the unrelated process still runs');
});

test('reap of a process that is gone stops nothing', async (t) => {
  const gone = spawnDetached(t, ['true']);
  if (gone.child.exitCode === null) await new Promise((resolve) => gone.child.once('exit', resolve));
  assert.equal(await new ProcessRuntime().reap({ instance: 'proc:test', pid: gone.pid, startTime: gone.startTime }, 200), false);
});

test('a child that left the group cannot keep exited pending by holding the output pipes', { timeout: 20_000 }, async (t) => {
  const seen: string[] = [];
  const proc = await new ProcessRuntime().start(
    specFor(['sh', '-c', 'setsid sleep 30 & echo "escaped $!"; exit 2'], { onLine: (_stream, line) => seen.push(line) }),
  );
  t.after(() => proc.stop(1000));
  const info = await proc.exited;
  const escapedPid = Number(/^escaped (\d+)$/.exec(seen[0] ?? '')?.[1]);
  assert.ok(Number.isInteger(escapedPid), 'its last output line arrived before exited');
  // Our own escaped sleep, a moment old: the pid cannot have been reused yet.
  const escapedStart = readStartTime(escapedPid);
  if (escapedStart !== undefined && isProcessRunning(escapedPid, escapedStart)) process.kill(escapedPid, 'SIGKILL');
  assert.equal(info.code, 2);
});

const limits = testCgroupLimits('process');

/** The cgroup folders a process is in, per controller line of /proc/PID/cgroup. */
function cgroupsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':')[2] ?? '');
}

test('with a memory limit the process runs inside its own cgroup, which is removed once it is gone', async (t) => {
  const proc = await new ProcessRuntime({ limits }).start(specFor(['sleep', '30'], { memoryLimitMb: 64 }));
  t.after(() => proc.stop(1000));
  // The wrapper joins the cgroup first thing, then execs the command: give it a moment.
  const group = await waitFor(() => cgroupsOf(proc.pid).find((g) => g.endsWith('/proc.test')), 5000, () => `a cgroup; in ${cgroupsOf(proc.pid).join(', ')}`);
  assert.ok(group.includes(`tenement-test-${process.pid}-process`), `in ${group}`);
  const host = await limits.detect();
  const memoryRoot = host.version === 'v2' ? host.v2Root! : host.v1Mounts!.memory!;
  assert.ok(existsSync(join(memoryRoot, group)));
  const info = await proc.stop(1000);
  assert.equal(info.oomKilled, false);
  assert.ok(!existsSync(join(memoryRoot, group)), 'the cgroup is removed after the stop');
});

test('a cgroup made for a command that cannot start is removed again', async () => {
  const runtime = new ProcessRuntime({ limits });
  await assert.rejects(
    runtime.start(specFor(['tenement-process-no-such-command'], { memoryLimitMb: 64 })),
    (err: unknown) => err instanceof TenementError && err.code === 'spawn_failed',
  );
  const host = await limits.detect();
  const memoryRoot = host.version === 'v2' ? host.v2Root! : host.v1Mounts!.memory!;
  assert.ok(!existsSync(join(memoryRoot, `tenement-test-${process.pid}-process`, 'proc.test')));
});
