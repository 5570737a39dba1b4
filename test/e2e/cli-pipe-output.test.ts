// `ten` writing into a pipe (`ten logs x | grep`, `ten ps --json | jq`): every byte arrives, also
// when the output is larger than a pipe buffer (64 KiB), where exiting before stdout drained used
// to cut it at exactly 65,536 bytes. The reader here is as slow as `grep` starting up: it reads
// nothing until the CLI has filled the pipe (or exited).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import { InstanceStore } from '../../src/store/instances.js';
import { startDaemon, tempDir, TEN, waitFor, type Daemon } from '../helpers/daemon.js';

const PIPE_BUFFER = 64 * 1024;
const REGISTERED = 1000;
const LOG_LINES = 3000;
const SERVICES = 150;

function bigConfig(): string {
  const env = Array.from({ length: 8 }, (_, i) => `VAR_${i} = "${'v'.repeat(80)}"`).join('\n');
  const services = Array.from({ length: SERVICES }, (_, i) => `[service.svc${i}]\ncommand = "node {apps}/ok.mjs"\n\n[service.svc${i}.env]\n${env}\n`);
  return `[service.chatty]
command = "sh"
args = ["-c", "seq -f 'line %g of the start-up chatter, long enough to fill a pipe buffer quickly' 1 ${LOG_LINES}; exec node {apps}/ok.mjs"]
health = "/health"

[service.bulk]
command = "node {apps}/ok.mjs"

${services.join('\n')}`;
}

/** Bytes the process has passed to write(2) so far (its stdout, and a little HTTP). */
function bytesWritten(pid: number): number {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// `ten ARGS | { wait for "go"; cat; }`: a real pipe (Node's own stdio pipes are socket pairs with
// larger buffers), whose reader starts only when told. stderr carries ten's pid and exit code.
const SLOW_PIPE = 'exec 3<&0; { "$@" </dev/null & echo "pid $!" >&2; wait $!; echo "exit $?" >&2; } | { read -r _ <&3; exec cat; }';

/** Runs `ten` into a pipe that is read only once the CLI has filled it or exited. */
async function tenIntoSlowPipe(d: Daemon, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', SLOW_PIPE, 'sh', process.execPath, TEN, ...args], {
    env: { ...process.env, TENEMENT_SERVER: d.url, TENEMENT_TOKEN: d.token }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise((resolve) => child.once('close', resolve));
  await waitFor(() => {
    const pid = Number(/^pid (\d+)$/m.exec(stderr)?.[1] ?? 0);
    return /^exit \d+$/m.test(stderr) || (pid > 0 && bytesWritten(pid) >= PIPE_BUFFER);
  }, 30_000, () => `the CLI to fill the pipe or exit: ${stderr}`);
  child.stdin.end('go\n');
  await exited;
  const code = Number(/^exit (\d+)$/m.exec(stderr)?.[1] ?? -1);
  return { code, stdout: Buffer.concat(chunks).toString(), stderr: stderr.replace(/^(pid|exit) \d+\n/gm, '') };
}

test('ten writes all of a large output into a pipe', async (t) => {
  const dir = tempDir(t, 'tenement-pipe-');
  mkdirSync(join(dir, 'data'));
  const db = openDb(join(dir, 'data', 'tenement.db'));
  const store = new InstanceStore(db);
  db.transaction(() => {
    for (let i = 0; i < REGISTERED; i++) store.insert('bulk', `t${String(i).padStart(4, '0')}`, 100, 'stopped');
  })();
  db.close();
  const d = await startDaemon(t, { dir, config: bigConfig() });
  assert.equal((await d.ten(['spawn', 'chatty:a'])).code, 0);

  await t.test('logs', async () => {
    await waitFor(async () => {
      const r = await d.http(`/api/logs?service=chatty&search=chatter&limit=${LOG_LINES}`, { headers: { authorization: `Bearer ${d.token}` } });
      return (JSON.parse(r.body) as unknown[]).length === LOG_LINES;
    }, 20_000, `${LOG_LINES} stored log lines`);
    const r = await tenIntoSlowPipe(d, ['logs', 'chatty:a', '--search', 'chatter', '--limit', String(LOG_LINES)]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > PIPE_BUFFER, `output ${r.stdout.length} bytes is larger than a pipe buffer`);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, LOG_LINES);
    assert.match(lines.at(-1)!, new RegExp(`line ${LOG_LINES} of the start-up chatter`));
    const json = await tenIntoSlowPipe(d, ['logs', 'chatty:a', '--search', 'chatter', '--limit', String(LOG_LINES), '--json']);
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, LOG_LINES);
  });

  await t.test('ps --json', async () => {
    const r = await tenIntoSlowPipe(d, ['ps', '-a', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > PIPE_BUFFER, `output ${r.stdout.length} bytes is larger than a pipe buffer`);
    const list = JSON.parse(r.stdout) as Array<{ instance: string }>;
    assert.equal(list.length, REGISTERED + 1);
  });

  await t.test('config', async () => {
    const r = await tenIntoSlowPipe(d, ['config']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > PIPE_BUFFER, `output ${r.stdout.length} bytes is larger than a pipe buffer`);
    assert.equal(r.stdout.match(/^\[service\./gm)?.length, SERVICES + 2);
    assert.match(r.stdout, new RegExp(`\\[service\\.svc${SERVICES - 1}\\]\\n(.*\\n)+ {2}env VAR_7 +v{80}\\n`));
  });
});
