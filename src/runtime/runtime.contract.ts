/**
 * The behaviour every Runtime (process, namespace, sandbox) owes the supervisor, as one node:test
 * suite each implementation runs against itself with the fixture apps of test/fixtures/apps.
 * @module
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TenementError } from '../core/errors.js';
import { isGroupAlive, isProcessRunning, listLiveMembers, readStartTime } from './proc-stat.js';
import type { OutputStream, RunningProcess, Runtime, SpawnSpec } from './runtime.js';
import { freePort } from '../../test/helpers/net.js';
import { testSpawnSpec } from '../../test/helpers/spawn-spec.js';

export interface RuntimeContractOptions {
  /** How long a fixture app may take to print "listening on PORT" (default 10 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Whether pids an app prints are host pids (false inside a PID namespace or gVisor); when
   * they are, a grandchild is also checked by its own pid, not only through its group.
   */
  readonly childPidsVisible?: boolean;
}

const APPS_DIR = fileURLToPath(new URL('../../test/fixtures/apps/', import.meta.url));

interface OutputLine {
  readonly stream: OutputStream;
  readonly line: string;
}

/** Collects an instance's output and lets a test wait, bounded, for a line. */
class Output {
  readonly lines: OutputLine[] = [];
  readonly #waiters = new Set<(entry: OutputLine) => void>();

  readonly onLine = (stream: OutputStream, line: string): void => {
    const entry = { stream, line };
    this.lines.push(entry);
    for (const waiter of this.#waiters) waiter(entry);
  };

  waitFor(pattern: RegExp, timeoutMs: number): Promise<OutputLine & { match: RegExpMatchArray }> {
    return new Promise((resolve, reject) => {
      const check = (entry: OutputLine): boolean => {
        const match = pattern.exec(entry.line);
        if (match === null) return false;
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        resolve({ ...entry, match });
        return true;
      };
      const waiter = (entry: OutputLine): void => void check(entry);
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output: ${JSON.stringify(this.lines)}`));
      }, timeoutMs);
      if (this.lines.some(check)) return;
      this.#waiters.add(waiter);
    });
  }
}

async function makeSpec(
  t: TestContext,
  app: string,
  env: Record<string, string> = {},
  overrides: Partial<SpawnSpec> = {},
): Promise<{ spec: SpawnSpec; output: Output }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tenement-contract-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const id = app.replace(/[^a-z0-9]/g, '-');
  const output = new Output();
  const spec = testSpawnSpec(`contract:${id}`, [process.execPath, join(APPS_DIR, `${app}.mjs`)], {
    cwd: APPS_DIR,
    port,
    dataDir,
    extraEnv: { TENEMENT_INSTANCE: `contract:${id}`, ...env },
    onLine: output.onLine,
    ...overrides,
  });
  return { spec, output };
}

/** Starts `spec` and makes sure the test leaves nothing running, whatever it asserts. */
async function startOwned(t: TestContext, runtime: Runtime, spec: SpawnSpec): Promise<RunningProcess> {
  const proc = await runtime.start(spec);
  t.after(() => proc.stop(1000));
  return proc;
}

function isGroupEmpty(pgid: number): boolean {
  return !isGroupAlive(pgid) || listLiveMembers(pgid).length === 0;
}

export function runRuntimeContract(name: string, makeRuntime: () => Runtime, options: RuntimeContractOptions = {}): void {
  const readyMs = options.readyTimeoutMs ?? 10_000;
  const childPidsVisible = options.childPidsVisible ?? true;

  /** Waits for the grandchild's "ready" line; kills it in t.after if it outlived the test. */
  async function watchGrandchild(t: TestContext, output: Output): Promise<{ pid: number; startTime: number | undefined }> {
    const { match } = await output.waitFor(/^grandchild (\d+) ready$/, readyMs);
    const pid = Number(match[1]);
    const startTime = childPidsVisible ? readStartTime(pid) : undefined;
    t.after(() => {
      if (startTime !== undefined && isProcessRunning(pid, startTime)) process.kill(pid, 'SIGKILL');
    });
    return { pid, startTime };
  }

  describe(`${name} runtime contract`, () => {
    test('the instance gets PORT, HOST, DATA_DIR and TENEMENT_INSTANCE', async (t) => {
      const { spec, output } = await makeSpec(t, 'ok');
      await startOwned(t, makeRuntime(), spec);
      await output.waitFor(/^listening on \d+$/, readyMs);
      const env = (await (await fetch(`http://127.0.0.1:${spec.port}/env`)).json()) as Record<string, string>;
      assert.equal(env.PORT, String(spec.port));
      assert.equal(env.HOST, '127.0.0.1');
      assert.equal(env.DATA_DIR, spec.dataDir);
      assert.equal(env.TENEMENT_INSTANCE, spec.instance);
    });

    test('stdout and stderr lines reach onLine, each tagged with its stream', async (t) => {
      const { spec, output } = await makeSpec(t, 'ok', { STDERR_LINE: 'a line on stderr' });
      await startOwned(t, makeRuntime(), spec);
      const stdout = await output.waitFor(/^listening on \d+$/, readyMs);
      const stderr = await output.waitFor(/^a line on stderr$/, readyMs);
      assert.equal(stdout.stream, 'stdout');
      assert.equal(stderr.stream, 'stderr');
    });

    test('stop ends the whole process group, even a forked grandchild that ignores SIGTERM', async (t) => {
      const { spec, output } = await makeSpec(t, 'fork-grandchild', { GRANDCHILD_IGNORE_SIGTERM: '1' });
      const proc = await startOwned(t, makeRuntime(), spec);
      const grandchild = await watchGrandchild(t, output);
      await output.waitFor(/^listening on \d+$/, readyMs);
      await proc.stop(300);
      assert.ok(isGroupEmpty(proc.pid), 'no member of the instance process group is left');
      if (grandchild.startTime !== undefined) {
        assert.equal(isProcessRunning(grandchild.pid, grandchild.startTime), false, 'the grandchild is gone');
      }
    });

    test('a leader that exits on its own takes its grandchild with it', async (t) => {
      const { spec, output } = await makeSpec(t, 'fork-grandchild', { CRASH_AFTER_MS: '200' });
      const proc = await startOwned(t, makeRuntime(), spec);
      const grandchild = await watchGrandchild(t, output);
      const info = await proc.exited;
      assert.equal(info.code, 1);
      assert.ok(isGroupEmpty(proc.pid), 'no member of the instance process group is left');
      if (grandchild.startTime !== undefined) {
        assert.equal(isProcessRunning(grandchild.pid, grandchild.startTime), false, 'the grandchild is gone');
      }
    });

    test('a process that ignores SIGTERM is SIGKILLed after the stop timeout', async (t) => {
      const { spec, output } = await makeSpec(t, 'ignore-sigterm');
      const proc = await startOwned(t, makeRuntime(), spec);
      await output.waitFor(/^listening on \d+$/, readyMs);
      const info = await proc.stop(300);
      assert.equal(info.signal, 'SIGKILL');
      assert.ok(output.lines.some((entry) => entry.line === 'ignoring SIGTERM'), 'SIGTERM came first');
      assert.ok(isGroupEmpty(proc.pid));
    });

    test('a crash resolves exited with the exit code, after the last output line', async (t) => {
      const { spec, output } = await makeSpec(t, 'crash-on-start', { EXIT_CODE: '3' });
      const proc = await startOwned(t, makeRuntime(), spec);
      const info = await proc.exited;
      assert.deepEqual(info, { code: 3, signal: null, oomKilled: false });
      assert.deepEqual(output.lines, [{ stream: 'stderr', line: 'crash-on-start: giving up' }]);
      assert.deepEqual(await proc.stop(1000), info, 'stop after exit answers the same exit');
      assert.deepEqual(await proc.stop(1000), info, 'stop is idempotent');
    });

    test('a missing command is refused with spawn_failed, naming the command', async (t) => {
      const { spec } = await makeSpec(t, 'ok', {}, { argv: ['tenement-contract-no-such-command', '--flag'] });
      await assert.rejects(makeRuntime().start(spec), (err: unknown) => {
        assert.ok(err instanceof TenementError);
        assert.equal(err.code, 'spawn_failed');
        assert.equal(err.message, `cannot start ${spec.instance}: command "tenement-contract-no-such-command" not found`);
        return true;
      });
    });

    test('a missing workdir is refused with spawn_failed', async (t) => {
      const { spec } = await makeSpec(t, 'ok', {}, { cwd: join(APPS_DIR, 'no-such-dir') });
      await assert.rejects(makeRuntime().start(spec), (err: unknown) => {
        assert.ok(err instanceof TenementError);
        assert.equal(err.code, 'spawn_failed');
        assert.equal(err.message, `cannot start ${spec.instance}: workdir does not exist`);
        return true;
      });
    });

    test('a process left running is adopted by the next runtime: same pid, its cgroup re-attached, its stop ends the group', async (t) => {
      const { spec, output } = await makeSpec(t, 'fork-grandchild', { GRANDCHILD_IGNORE_SIGTERM: '1' });
      const left = await startOwned(t, makeRuntime(), spec);
      const grandchild = await watchGrandchild(t, output);
      await output.waitFor(/^listening on \d+$/, readyMs);
      const orphan = { instance: spec.instance, pid: left.pid, startTime: left.startTime };
      const adoption = await makeRuntime().adopt(orphan);
      assert.ok(!('refused' in adoption), JSON.stringify(adoption));
      assert.equal(adoption.proc.pid, left.pid);
      assert.equal(adoption.frozen, false);
      assert.equal(adoption.proc.cgroup !== undefined, left.cgroup !== undefined, 'its cgroup re-attached where it had one');
      assert.equal((await fetch(`http://127.0.0.1:${spec.port}/`)).status, 200);
      await adoption.proc.stop(300);
      assert.ok(isGroupEmpty(left.pid), 'no member of the instance process group is left');
      if (grandchild.startTime !== undefined) {
        assert.equal(isProcessRunning(grandchild.pid, grandchild.startTime), false, 'the grandchild is gone');
      }
      const again = await makeRuntime().adopt(orphan);
      assert.ok('refused' in again, 'a record of a process that is gone is refused');
    });

    test('a memory limit is either applied or refused with isolation_unavailable', async (t) => {
      const { spec, output } = await makeSpec(t, 'ok', {}, { memoryLimitMb: 256 });
      const runtime = makeRuntime();
      let proc: RunningProcess;
      try {
        proc = await runtime.start(spec);
      } catch (err) {
        assert.ok(err instanceof TenementError);
        assert.equal(err.code, 'isolation_unavailable');
        await assert.rejects(runtime.check(spec), (checked: unknown) => checked instanceof TenementError && checked.code === 'isolation_unavailable');
        return;
      }
      t.after(() => proc.stop(1000));
      await output.waitFor(/^listening on \d+$/, readyMs);
      const info = await proc.stop(2000);
      assert.equal(info.oomKilled, false);
    });
  });
}
