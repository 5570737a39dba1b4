/** CgroupLimits under a parent group of the test's own, removed when the test file ends; a cgroup2 mount of the test's own. */
import { after, type TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { rmdirSync } from 'node:fs';
import { mkdtemp, readdir, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupLimits } from '../../src/runtime/cgroups.js';

export function testCgroupLimits(suffix: string): CgroupLimits {
  const parent = `tenement-test-${process.pid}-${suffix}`;
  const limits = new CgroupLimits({ parent });
  after(async () => {
    const host = await limits.detect();
    const roots = [...Object.values(host.v1Mounts ?? {}), ...(host.v2Root === undefined ? [] : [host.v2Root])];
    for (const root of roots) {
      try {
        rmdirSync(`${root}/${parent}`);
      } catch {
        // never created
      }
    }
  });
  return limits;
}

/**
 * Mounts the (one) cgroup2 hierarchy at a fresh temp dir; afterwards removes this process's test
 * groups from it (after-hooks run in registration order, so theirs would come too late) and
 * unmounts it.
 */
export async function mountCgroup2(t: TestContext): Promise<string> {
  const mountPoint = await mkdtemp(join(tmpdir(), 'tenement-cgroup2-'));
  execFileSync('mount', ['-t', 'cgroup2', 'none', mountPoint]);
  t.after(async () => {
    for (const name of await readdir(mountPoint)) {
      if (name.startsWith(`tenement-test-${process.pid}-`)) await rmdir(`${mountPoint}/${name}`).catch(() => undefined);
    }
    execFileSync('umount', [mountPoint]);
    await rmdir(mountPoint);
  });
  return mountPoint;
}
