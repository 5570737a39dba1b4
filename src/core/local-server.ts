/**
 * How a `ten` finds the `ten serve` running on the same machine, like `docker ps` finds its
 * daemon: the server records its URL and the path of its token file in a per-user runtime file
 * (`$XDG_RUNTIME_DIR/tenement/server-PID.json`, else `~/.local/state/tenement/…`; the folder 0700,
 * the file 0600, never the token itself) and removes it at a clean exit. Readers skip records of
 * servers that are gone and any file another user could have written.
 * @module
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, chmodSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface LocalServer {
  /** Where the CLI reaches it, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** `{data_dir}/api_token`: the admin token the server wrote. */
  readonly tokenFile: string;
  readonly dataDir: string;
  readonly pid: number;
  /** ISO time the server started listening. */
  readonly startedAt: string;
}

/** `$XDG_RUNTIME_DIR/tenement`, else `$XDG_STATE_HOME/tenement`, else `~/.local/state/tenement`. */
export function localServerDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && isAbsolute(runtime)) return join(runtime, 'tenement');
  const state = env.XDG_STATE_HOME;
  if (state !== undefined && isAbsolute(state)) return join(state, 'tenement');
  return join(env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : homedir(), '.local', 'state', 'tenement');
}

/** Writes this server's record; returns the file to pass to removeLocalServer at exit. */
export function recordLocalServer(server: LocalServer, env: NodeJS.ProcessEnv = process.env): string {
  const dir = localServerDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, `server-${server.pid}.json`);
  // A record left by an earlier process with the same pid: replace it, with our mode.
  removeLocalServer(file);
  writeFileSync(file, `${JSON.stringify(server)}\n`, { mode: 0o600, flag: 'wx' });
  return file;
}

export function removeLocalServer(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** The records of servers still running, newest first. Stale records are deleted on the way. */
export function findLocalServers(env: NodeJS.ProcessEnv = process.env): LocalServer[] {
  const dir = localServerDir(env);
  if (!isPrivate(dir, 'directory')) return [];
  const found: LocalServer[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^server-\d+\.json$/.test(name)) continue;
    const file = join(dir, name);
    if (!isPrivate(file, 'file')) continue;
    const server = parseRecord(file);
    if (server === undefined) continue;
    if (isRunning(server.pid)) found.push(server);
    else removeLocalServer(file);
  }
  return found.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** Ours, and nobody else may write it (a planted record could send our token elsewhere). */
function isPrivate(path: string, kind: 'file' | 'directory'): boolean {
  try {
    const st = lstatSync(path);
    const isKind = kind === 'file' ? st.isFile() : st.isDirectory();
    return isKind && st.uid === process.getuid?.() && (st.mode & (kind === 'file' ? 0o077 : 0o022)) === 0;
  } catch {
    return false;
  }
}

function parseRecord(file: string): LocalServer | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalServer>;
    const valid = typeof r.url === 'string' && typeof r.tokenFile === 'string' && typeof r.dataDir === 'string'
      && Number.isInteger(r.pid) && typeof r.startedAt === 'string';
    return valid ? (r as LocalServer) : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
