/**
 * End-to-end helpers: a real `ten serve` on 127.0.0.1 (port 0) with a temp data dir, the real
 * `bin/ten` CLI, bounded waits, and the leak check for error bodies.
 * @module
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpRequest } from 'node:http';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { fenceTableName } from '../../src/runtime/port-fence.js';
import { waitFor } from './wait.js';

export { waitFor };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TEN = join(ROOT, 'bin/ten');
export const APPS = join(ROOT, 'test/fixtures/apps');

/**
 * The servers and CLIs of a test process record and look up local servers here, not in the
 * user's runtime dir: a developer's own `ten serve` and the tests' never see each other.
 */
const RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'tenement-run-'));
process.on('exit', () => rmSync(RUNTIME_DIR, { recursive: true, force: true }));
const ISOLATED_ENV = { XDG_RUNTIME_DIR: RUNTIME_DIR };

export function tempDir(t?: TestContext, prefix = 'tenement-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Daemon {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly token: string;
  readonly proc: ChildProcess;
  /** Everything the server printed so far (stdout + stderr). */
  output(): string;
  /** SIGTERM, wait for exit (bounded), SIGKILL if needed; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** Simulates a crash: SIGKILL to the server alone. */
  crash(): Promise<void>;
  /** Runs the real CLI against this server. */
  ten(args: readonly string[], env?: Record<string, string>): Promise<CliResult>;
  /** GET/POST through the server with a Host header. */
  http(path: string, options?: HttpOptions): Promise<HttpResult>;
}

export interface DaemonOptions {
  /** tenement.toml text; `{apps}` is replaced by the fixture apps folder. */
  config: string;
  /** Reuse a folder (to restart a server on the same data); the caller removes it. */
  dir?: string;
  domain?: string;
  extraArgs?: readonly string[];
  /** Leave instances running when the server exits (the default of ten serve); tests otherwise pass --stop-instances-on-exit. */
  keepInstances?: boolean;
  env?: Record<string, string>;
  /** Run the server as this uid (= gid) instead of the test's own; the folder becomes theirs. */
  asUser?: number;
  /** How long it may take to start listening (default 20 s; a take-over boots first). */
  startTimeoutMs?: number;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HttpOptions {
  host?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Folder → the stop() of every server started on it. */
const serversByDir = new Map<string, Array<() => Promise<number | null>>>();

export async function startDaemon(t: TestContext | undefined, options: DaemonOptions): Promise<Daemon> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tenement-test-'));
  // Like a real install's folder: instances (own users when root) pass through it to their DATA_DIR.
  chmodSync(dir, 0o711);
  const configFile = join(dir, 'tenement.toml');
  const dataDir = join(dir, 'data');
  writeFileSync(configFile, options.config.replaceAll('{apps}', APPS));
  const args = [TEN, 'serve', '--config', configFile, '--data-dir', dataDir, '--port', '0', '--bind', '127.0.0.1',
    '--domain', options.domain ?? 'localhost', ...(options.keepInstances === true ? [] : ['--stop-instances-on-exit']), ...(options.extraArgs ?? [])];
  const asUser = options.asUser === undefined ? [] : ['setpriv', `--reuid=${options.asUser}`, `--regid=${options.asUser}`, '--clear-groups'];
  if (options.asUser !== undefined) chownSync(dir, options.asUser, options.asUser);
  const [command, ...commandArgs] = [...asUser, process.execPath, ...args];
  const proc = spawn(command!, commandArgs, { cwd: dir, env: { ...process.env, ...ISOLATED_ENV, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));

  const stop = async (): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  // node:test runs hooks first-registered first, so the folder's owner stops every server that
  // used the folder (a restarted one too) before removing it.
  const stops = serversByDir.get(dir) ?? [];
  serversByDir.set(dir, [...stops, stop]);
  t?.after(async () => {
    await stop();
    // A server the test crashed (and never restarted) leaves its port fence, which would refuse
    // connections into its port range from every other uid on the host for good.
    removeFenceTable(dataDir);
    if (options.dir !== undefined) return;
    for (const stopServer of serversByDir.get(dir) ?? []) await stopServer();
    serversByDir.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  const port = await waitFor(() => {
    const m = /tenement listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (m) return Number(m[1]);
    if (proc.exitCode !== null) throw new Error(`ten serve exited with ${proc.exitCode}:\n${out}`);
    return undefined;
  }, options.startTimeoutMs ?? 20_000, () => `ten serve did not start:\n${out}`);
  const tokenFile = join(dataDir, 'api_token');
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
  const url = `http://127.0.0.1:${port}`;

  return {
    url, port, dir, dataDir, configFile, token, proc,
    output: () => out,
    stop,
    crash: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    ten: (cliArgs, env) => runTen(cliArgs, { TENEMENT_SERVER: url, TENEMENT_TOKEN: token, ...env }, dir),
    http: (path, o) => httpGet(port, path, o),
  };
}

function removeFenceTable(dataDir: string): void {
  try {
    execFileSync('nft', ['delete', 'table', 'inet', fenceTableName(dataDir)], { stdio: 'ignore' });
  } catch {
    // none: the server deleted it at its clean exit, or never made one
  }
}

export function runTen(args: readonly string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((res) => {
    execFile(process.execPath, [TEN, ...args], { cwd, env: { ...process.env, ...ISOLATED_ENV, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null;
      res({ code, stdout, stderr });
    });
  });
}

export function httpGet(port: number, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const req = httpRequest({
      host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false,
      headers: { host: options.host ?? 'localhost', ...options.headers },
      timeout: options.timeoutMs ?? 30_000,
    }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks).toString() }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${path} timed out`)));
    req.on('error', rej);
    req.end(options.body);
  });
}

/** Error bodies must not reveal internal paths, pids or ports. */
export function assertNoLeak(body: string, extra: { ports?: number[]; pids?: number[] } = {}): void {
  assert.doesNotMatch(body, /\/(tmp|root|home|usr|var|work)\//, `body leaks a path: ${body}`);
  assert.doesNotMatch(body, /\bat .+:\d+:\d+\)?/, `body leaks a stack trace: ${body}`);
  for (const p of extra.ports ?? []) assert.ok(!body.includes(String(p)), `body leaks port ${p}: ${body}`);
  for (const p of extra.pids ?? []) assert.ok(!body.includes(String(p)), `body leaks pid ${p}: ${body}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is dead for our purposes.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** An admin-token request to a daemon's API; `body` is sent as JSON. */
export function adminCall(d: Daemon, method: string, path: string, body?: unknown): Promise<HttpResult> {
  return d.http(path, {
    method,
    headers: { authorization: `Bearer ${d.token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Every instance's weight, by `service:id`. */
export async function instanceWeights(d: Daemon): Promise<Record<string, number>> {
  const list = JSON.parse((await adminCall(d, 'GET', '/api/instances')).body) as Array<{ instance: string; weight: number }>;
  return Object.fromEntries(list.map((i) => [i.instance, i.weight]));
}
