// Adoption re-attaches an instance's cgroup as the runtime made it (the host's hierarchies, v1 or
// v2, and a cgroup2 hierarchy the test mounts): the adopted process is stopped with everything in
// its cgroup, a frozen group is reported frozen, and a record that no longer names the instance's
// leader (a reused pid, a process outside the instance's cgroup, one that does not lead its
// process group) is neither adopted nor signalled.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { CgroupLimits } from './cgroups.js';
import { ProcessRuntime } from './process.js';
import { readProcStat } from './proc-stat.js';
import type { Adoption, Orphan, RunningProcess } from './runtime.js';
import { mountCgroup2, removeTestGroups } from '../../test/helpers/cgroups.js';
import { testSpawnSpec } from '../../test/helpers/spawn-spec.js';
import { waitFor } from '../../test/helpers/wait.js';

/** A leader with a child in its process group and one that left it (setsid), all in its cgroup. */
const FAMILY = ['/bin/sh', '-c', 'sleep 300 & setsid sleep 300 & exec sleep 300'];

function isGone(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat === undefined || stat.state === 'Z';
}

function childrenOf(pid: number): { inGroup: number; escaped: number } | undefined {
  const children = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => readProcStat(p)?.ppid === pid);
  const inGroup = children.find((p) => readProcStat(p)?.pgrp === pid);
  const escaped = children.find((p) => readProcStat(p)?.pgrp === p);
  return inGroup === undefined || escaped === undefined ? undefined : { inGroup, escaped };
}

function adopted(adoption: Adoption): { proc: RunningProcess; frozen: boolean } {
  assert.ok(!('refused' in adoption), `adopted, not refused: ${JSON.stringify(adoption)}`);
  return adoption;
}

/** Two instances started by "the previous server", and a runtime of "the next one" on the same groups. */
async function leftovers(t: TestContext, root?: string) {
  const parent = `tenement-test-${process.pid}-adopt${root === undefined ? '' : '2'}`;
  const options = { parent, ...(root === undefined ? {} : { root }) };
  const previous = new ProcessRuntime({ limits: new CgroupLimits(options) });
  const [a, b] = [await previous.start(testSpawnSpec('app:a', FAMILY, { freezable: true })), await previous.start(testSpawnSpec('app:b', FAMILY))];
  t.after(async () => {
    await Promise.all([a.stop(1000), b.stop(1000)]);
    await removeTestGroups(new CgroupLimits(options), parent);
  });
  const family = await waitFor(() => childrenOf(a.pid), 10_000, 'the children of app:a');
  return { a, b, family, next: new ProcessRuntime({ limits: new CgroupLimits(options) }) };
}

for (const flavour of ['the host\'s cgroups', 'a cgroup2 hierarchy'] as const) {
  test(`${flavour}: an adopted instance has its cgroup back: its usage, its frozen state, and a stop that kills what left its group`, async (t) => {
    const root = flavour === 'a cgroup2 hierarchy' ? await mountCgroup2(t) : undefined;
    const { a, family, next } = await leftovers(t, root);
    const orphan: Orphan = { instance: 'app:a', pid: a.pid, startTime: a.startTime };

    const { proc, frozen } = adopted(await next.adopt(orphan));
    assert.equal(frozen, false);
    assert.ok(proc.cgroup !== undefined, 'the cgroup is re-attached');
    const usage = await proc.cgroup.usage();
    assert.ok(usage?.cpuSeconds !== undefined, 'its CPU time is read from its cgroup');

    await a.cgroup!.freeze();
    const again = adopted(await next.adopt(orphan));
    assert.equal(again.frozen, true, 'a group left frozen is adopted frozen');
    await again.proc.cgroup!.thaw();
    assert.equal(await a.cgroup!.isFrozen(), false, 'and the re-attached group thaws it');

    await proc.stop(1000);
    for (const pid of [a.pid, family.inGroup, family.escaped]) await waitFor(() => isGone(pid), 10_000, `process ${pid} killed by the stop`);
  });

  test(`${flavour}: a record that no longer names the instance's leader is not adopted, and nothing is signalled`, async (t) => {
    const root = flavour === 'a cgroup2 hierarchy' ? await mountCgroup2(t) : undefined;
    const { a, b, family, next } = await leftovers(t, root);
    const cases: Array<[string, Orphan, RegExp]> = [
      // The pid reused by a process with the very same start time, outside the instance's cgroup.
      ['another instance\'s leader', { instance: 'app:a', pid: b.pid, startTime: b.startTime }, /^pid \d+ is no longer in its cgroup$/],
      ['a reused pid', { instance: 'app:a', pid: a.pid, startTime: a.startTime + 1 }, /^its process \(pid \d+\) is gone$/],
      ['a member that does not lead the group', { instance: 'app:a', pid: family.inGroup, startTime: readProcStat(family.inGroup)!.startTime }, /no longer leads its process group$/],
      ['a corrupt record', { instance: 'app:a', pid: -1, startTime: 0 }, /^its recorded pid is invalid$/],
    ];
    for (const [what, orphan, why] of cases) {
      const adoption = await next.adopt(orphan);
      assert.ok('refused' in adoption, `${what}: refused`);
      assert.match(adoption.refused, why);
    }
    for (const pid of [a.pid, b.pid, family.inGroup, family.escaped]) assert.ok(!isGone(pid), `process ${pid} untouched`);
    // Reaping app:a empties app:a's cgroup, but the group of a process outside it is not signalled.
    assert.equal(await next.reap({ instance: 'app:a', pid: b.pid, startTime: b.startTime }, 1000), false);
    assert.ok(!isGone(b.pid), 'another instance\'s leader is not stopped');
  });
}
