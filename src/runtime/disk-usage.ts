/**
 * How much disk a directory tree takes, as `du` counts it (allocated blocks), walked
 * asynchronously without following symlinks, with bounded concurrency and memory.
 * @module
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Directories read at once: enough to overlap I/O, few enough not to starve the server. */
const CONCURRENCY = 4;

/**
 * Bytes allocated to `dir` and everything under it. A symlink counts as itself, never its
 * target (a tenant must not charge, or hide, someone else's files); a file hard-linked several
 * times inside counts once; entries that vanish mid-walk are skipped; a missing `dir` is 0.
 */
export async function measureDirBytes(dir: string): Promise<number> {
  let total = 0;
  const seenLinks = new Set<string>();
  const pending: string[] = [dir];
  const add = async (path: string): Promise<boolean> => {
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined) return false;
    if (stats.nlink > 1 && !stats.isDirectory()) {
      const key = `${stats.dev}:${stats.ino}`;
      if (seenLinks.has(key)) return false;
      seenLinks.add(key);
    }
    total += stats.blocks * 512;
    return stats.isDirectory();
  };
  if (!(await add(dir))) return total;

  const worker = async (): Promise<void> => {
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const entries = await readdir(next, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(next, entry.name);
        if ((await add(path)) && entry.isDirectory()) pending.push(path);
      }
    }
  };
  // Workers stop when the stack is empty at the moment they look; rerun while a slower worker
  // refilled it.
  while (pending.length > 0) await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return total;
}
