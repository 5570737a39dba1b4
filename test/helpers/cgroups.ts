/** CgroupLimits under a parent group of the test's own, removed when the test file ends; a cgroup2 mount of the test's own. */
import { after, type TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { waitFor } from './wait.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupLimits } from '../../src/runtime/cgroups.js';

export function testCgroupLimits(suffix: string): CgroupLimits {
  const parent = `tenement-test-${process.pid}-${suffix}`;
  const limits = new CgroupLimits({ parent });
  after(() => removeTestGroups(limits, parent));
  return limits;
}

/**
 * Removes a test's parent group, and any group a test left under it, from every hierarchy (v1
 * mounts and the cgroup2 root), children first; a group that still holds a process stays.
 */
export async function removeTestGroups(limits: CgroupLimits, parent: string): Promise<void> {
  const host = await limits.detect();
  const roots = [...Object.values(host.v1Mounts ?? {}), ...(host.v2Root === undefined ? [] : [host.v2Root])];
  for (const root of new Set(roots)) await removeGroupTree(join(root, parent));
}

async function removeGroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await removeGroupTree(join(dir, entry.name));
  await rmdir(dir).catch(() => undefined);
}

/**
 * Mounts the (one) cgroup2 hierarchy at a fresh temp dir; afterwards kills what this process's
 * test groups in it still hold and removes them (after-hooks run in registration order, so a
 * test's own stop through this mount would come too late), then unmounts it.
 */
export async function mountCgroup2(t: TestContext): Promise<string> {
  const mountPoint = await mkdtemp(join(tmpdir(), 'tenement-cgroup2-'));
  execFileSync('mount', ['-t', 'cgroup2', 'none', mountPoint]);
  t.after(async () => {
    for (const name of await readdir(mountPoint)) {
      if (!name.startsWith(`tenement-test-${process.pid}-`)) continue;
      const group = join(mountPoint, name);
      await writeFile(join(group, 'cgroup.kill'), '1').catch(() => undefined);
      await waitFor(async () => !(await readFile(join(group, 'cgroup.events'), 'utf8')).includes('populated 1'), 5_000, `${name} emptied`)
        .catch(() => undefined);
      await removeGroupTree(group);
    }
    execFileSync('umount', [mountPoint]);
    await rmdir(mountPoint);
  });
  return mountPoint;
}
