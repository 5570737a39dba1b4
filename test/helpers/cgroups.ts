/** CgroupLimits under a parent group of the test's own, removed when the test file ends. */
import { after } from 'node:test';
import { rmdirSync } from 'node:fs';
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
