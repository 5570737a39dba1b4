/**
 * Plumbing the benches share: running a command, reading wrk's output and /proc figures, waiting
 * for `ten serve` to listen. Free ports come from test/helpers/net.ts.
 * @module
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'ten');

export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => execFile(cmd, args, { timeout: 120_000 }, (err, stdout, stderr) => (err ? rej(new Error(`${cmd}: ${stderr || err.message}`)) : res(stdout))));
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A wrk latency ("512.00us", "1.20ms", "2s") in ms. */
export function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

export interface WrkFigures { reqPerS: number; requests: number; p50Ms: number; p99Ms: number; errors: number; errorDetail: string }

/** The figures of one `wrk --latency` run; errors are non-2xx/3xx answers plus socket errors. */
export function parseWrk(out: string): WrkFigures {
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    reqPerS: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0),
    errorDetail: [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], sock?.[0]].filter((x) => x !== undefined).join('; '),
  };
}

/** User + system CPU ticks of `pid` so far; 0 when it is gone or not given. */
export function cpuTicks(pid: number | null): number {
  if (pid === null) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The (single) worker of an nginx master, whose CPU is what nginx spends on requests. */
export function nginxWorker(masterPid: number): number | null {
  try {
    const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/);
    return children[0] ? Number(children[0]) : null;
  } catch {
    return null;
  }
}

export function pssKb(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resolves once a spawned `ten serve` prints its listening line (its piped output is collected). */
export async function waitForListening(server: ChildProcess): Promise<void> {
  let out = '';
  server.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  server.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  const deadline = Date.now() + 20_000;
  while (!out.includes('tenement listening')) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`ten serve did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `ten serve` on `{dir}/tenement.toml` and `{dir}/data` (its instances stop with it) once it listens on `port`. */
export async function startServe(dir: string, port: number): Promise<ChildProcess> {
  const server = spawn(process.execPath, [TEN, '--config', join(dir, 'tenement.toml'), '--data-dir', join(dir, 'data'), 'serve', '--port', String(port), '--stop-instances-on-exit'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForListening(server);
    return server;
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
}
