/**
 * How much memory the host can still hand out without swapping: MemAvailable from /proc/meminfo.
 * @module
 */
import { readFile } from 'node:fs/promises';

/** MemAvailable in MiB; undefined where the kernel does not report it (before Linux 3.14, or not Linux). */
export async function readMemAvailableMb(file = '/proc/meminfo'): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^MemAvailable:\s+(\d+) kB$/m.exec(text);
  return match === null ? undefined : Number(match[1]) / 1024;
}
