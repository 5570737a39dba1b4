// systemd socket activation: `ten serve` serves on a listening socket it inherits (LISTEN_FDS,
// LISTEN_PID), so the port stays open across a restart — a request sent while no server runs
// waits in the socket's backlog and is answered by the next server, by the same tenant process.
// test/fixtures/socket-holder.mjs holds the socket, as systemd does for a .socket unit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, ROOT, TEN, httpGet, runTen, tempDir, waitFor } from '../helpers/daemon.js';

const CONFIG = `
[service.notes]
command = "node ${APPS}/ok.mjs"
health = "/health"
idle_timeout = 0
`;

/** The pid of the `ten serve` the holder runs now (its only child), once there is one. */
function serverPid(holder: number): number | undefined {
  try {
    const child = Number(readFileSync(`/proc/${holder}/task/${holder}/children`, 'utf8').trim().split(' ')[0]);
    return child > 0 ? child : undefined;
  } catch {
    return undefined;
  }
}

function fdLinks(pid: number | 'self'): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).map((fd) => { try { return readlinkSync(join(dir, fd)); } catch { return ''; } });
}

test('ten serve listens on a socket passed by systemd and keeps the port open across a restart', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'tenement.toml'), CONFIG);
  const args = [TEN, 'serve', '--config', join(dir, 'tenement.toml'), '--data-dir', join(dir, 'data')];
  const holder = spawn(process.execPath, [join(ROOT, 'test/fixtures/socket-holder.mjs'), process.execPath, ...args], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  holder.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  holder.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const holderExited = new Promise<number | null>((resolve) => holder.once('exit', (code) => resolve(code)));
  t.after(() => holder.kill('SIGKILL'));
  const port = await waitFor(() => Number(/^port (\d+)$/m.exec(out)?.[1] ?? 0) || undefined, 20_000, () => out);
  const env = { TENEMENT_SERVER: `http://127.0.0.1:${port}`, TENEMENT_DATA_DIR: join(dir, 'data') };
  const ten = (cli: readonly string[]): ReturnType<typeof runTen> => runTen(['--data-dir', join(dir, 'data'), ...cli], env, dir);

  await waitFor(() => out.includes(`tenement listening on http://127.0.0.1:${port}`), 20_000, () => out);
  const first = serverPid(holder.pid!)!;
  const socketLink = readlinkSync(`/proc/${first}/fd/3`);
  assert.match(socketLink, /^socket:/);
  const spawned = await ten(['spawn', 'notes:a']);
  assert.equal(spawned.code, 0, spawned.stderr);
  const pid = (JSON.parse((await ten(['ps', '--json'])).stdout) as Array<{ pid: number }>)[0]!.pid;
  assert.ok(!fdLinks(pid).includes(socketLink), 'the tenant does not hold the listening socket');

  process.kill(first, 'SIGTERM');
  await waitFor(() => /holder: starting the server[^]*holder: starting the server/.test(out), 20_000, () => out);
  // Between the two servers: the connection is accepted by the kernel and waits in the backlog.
  const answer = await httpGet(port, '/', { host: 'a.notes.localhost', timeoutMs: 30_000 });
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'hello from notes:a');
  const after = JSON.parse((await ten(['ps', '--json'])).stdout) as Array<{ pid: number }>;
  assert.equal(after[0]!.pid, pid, 'the same tenant process answered');

  process.kill(serverPid(holder.pid!)!, 'SIGTERM');
  assert.equal(await holderExited, 0);
  assert.match(out, /stopping instances…/);
});
