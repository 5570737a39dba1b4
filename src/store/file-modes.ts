/**
 * Modes of tenement's own files (docs: isolation): the data dir can be passed through by
 * instances on the way to their DATA_DIR but listed by tenement alone (0711 at most), and the
 * state store and token files are 0600. `ten serve` creates files under umask 077; this fixes a
 * data dir an older tenement left wider.
 * @module
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Files only tenement may read: the store (with its WAL and shared memory) and the admin token. */
export const PRIVATE_FILES = ['tenement.db', 'tenement.db-wal', 'tenement.db-shm', 'api_token'];
/** Folders only tenement may enter (gVisor bundles hold instances' environments). */
export const PRIVATE_DIRS = ['.sandbox'];

export interface ModeFix {
  readonly path: string;
  readonly from: number;
  readonly to: number;
}

/** Creates the data dir if needed and narrows every mode wider than it may be; lists what changed. */
export function secureDataDir(dataDir: string): ModeFix[] {
  const fixes: ModeFix[] = [];
  if (!existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true });
    chmodSync(dataDir, 0o711);
  }
  // Exactly 0711: instances need the x bits to reach their DATA_DIR (umask may have removed them).
  setMode(dataDir, () => 0o711, fixes);
  for (const name of PRIVATE_FILES) narrow(join(dataDir, name), 0o600, fixes);
  for (const name of PRIVATE_DIRS) narrow(join(dataDir, name), 0o700, fixes);
  return fixes;
}

/** Clears every permission bit outside `allowed`; a missing path is fine. */
function narrow(path: string, allowed: number, fixes: ModeFix[]): void {
  setMode(path, (mode) => mode & allowed, fixes);
}

function setMode(path: string, target: (mode: number) => number, fixes: ModeFix[]): void {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    return;
  }
  const to = target(mode);
  if (to === mode) return;
  chmodSync(path, to);
  fixes.push({ path, from: mode, to });
}
