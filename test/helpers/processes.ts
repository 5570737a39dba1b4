// Finding an instance's processes from outside: by the DATA_DIR in their environment, which is
// unique to one test's folder, so a test sees only what it started.
import { readdirSync, readFileSync } from 'node:fs';

/** Live (not zombie) processes whose environment carries this data dir. */
export function processesWithDataDir(dataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (env.includes(`DATA_DIR=${dataDir}\0`) && !/\) Z /.test(stat)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
