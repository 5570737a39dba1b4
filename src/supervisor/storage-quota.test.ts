// storage_quota_mb: a warning once past 80 %, "exceeded" at 100 %, measured from real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageQuotaWatcher } from './storage-quota.js';
import { waitFor } from '../../test/helpers/wait.js';

const MB = 1024 * 1024;

interface Report {
  readonly kind: 'warn' | 'exceeded';
  readonly name: string;
  readonly usedBytes: number;
  readonly quotaBytes: number;
}

interface Recorder {
  readonly watcher: StorageQuotaWatcher;
  readonly reports: Report[];
  waitForReports(n: number): Promise<void>;
  /** Waits until `name` has been measured `passes` more times (so a silence is a real one). */
  severalPasses(name: string, passes?: number): Promise<void>;
}

/** A watcher that records its reports and measurements; waits are bounded. */
function recordingWatcher(t: TestContext): Recorder {
  const reports: Report[] = [];
  const measured = new Map<string, number>();
  const watcher = new StorageQuotaWatcher({
    intervalMs: 20,
    onWarn: (name, usedBytes, quotaBytes) => reports.push({ kind: 'warn', name, usedBytes, quotaBytes }),
    onExceeded: (name, usedBytes, quotaBytes) => reports.push({ kind: 'exceeded', name, usedBytes, quotaBytes }),
    onMeasured: (name) => measured.set(name, (measured.get(name) ?? 0) + 1),
  });
  t.after(() => watcher.close());
  const until = async (what: string, done: () => boolean): Promise<void> => {
    await waitFor(done, 5000, () => `${what}; reports: ${JSON.stringify(reports)}`);
  };
  return {
    watcher,
    reports,
    waitForReports: (n) => until(`${n} reports`, () => reports.length >= n),
    severalPasses: (name, passes = 3) => {
      const target = (measured.get(name) ?? 0) + passes;
      return until(`${passes} measurements of ${name}`, () => (measured.get(name) ?? 0) >= target);
    },
  };
}

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tenement-quota-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('an instance filling its quota is warned once past 80 % and reported exceeded at 100 %', async (t) => {
  const dir = await dataDir(t);
  const { watcher, reports, waitForReports, severalPasses } = recordingWatcher(t);
  await writeFile(join(dir, 'small'), Buffer.alloc(MB / 2, 1));
  watcher.watch('notes:alice', dir, 2);
  await severalPasses('notes:alice');
  assert.equal(reports.length, 0, 'at 25 % nothing is said');

  await writeFile(join(dir, 'more'), Buffer.alloc(MB + MB / 4, 1));
  await waitForReports(1);
  await severalPasses('notes:alice');
  assert.equal(reports.length, 1, 'the warning is given once, not every pass');
  assert.equal(reports[0]!.kind, 'warn');
  assert.equal(reports[0]!.name, 'notes:alice');
  assert.equal(reports[0]!.quotaBytes, 2 * MB);
  assert.ok(reports[0]!.usedBytes >= 1.75 * MB && reports[0]!.usedBytes < 2 * MB);

  await writeFile(join(dir, 'last'), Buffer.alloc(MB / 2, 1));
  await waitForReports(2);
  assert.equal(reports[1]!.kind, 'exceeded');
  assert.ok(reports[1]!.usedBytes >= 2 * MB);
});

test('a data dir that jumps past its quota is warned and reported exceeded', async (t) => {
  const dir = await dataDir(t);
  const { watcher, reports, waitForReports } = recordingWatcher(t);
  watcher.watch('notes:bob', dir, 1);
  await writeFile(join(dir, 'big'), Buffer.alloc(3 * MB, 1));
  await waitForReports(2);
  assert.deepEqual(reports.map((r) => r.kind), ['warn', 'exceeded']);
});

test('after unwatch (instance stopped or removed) nothing more is reported', async (t) => {
  const dir = await dataDir(t);
  const other = await dataDir(t);
  const { watcher, reports, severalPasses } = recordingWatcher(t);
  watcher.watch('notes:carol', dir, 1);
  watcher.watch('notes:dave', other, 1);
  watcher.unwatch('notes:carol');
  await writeFile(join(dir, 'big'), Buffer.alloc(2 * MB, 1));
  await severalPasses('notes:dave');
  assert.deepEqual(reports, []);
});

test('each instance is judged against its own quota', async (t) => {
  const small = await dataDir(t);
  const large = await dataDir(t);
  const { watcher, reports, waitForReports, severalPasses } = recordingWatcher(t);
  await writeFile(join(small, 'f'), Buffer.alloc(2 * MB, 1));
  await writeFile(join(large, 'f'), Buffer.alloc(2 * MB, 1));
  watcher.watch('notes:small', small, 1);
  watcher.watch('notes:large', large, 100);
  await waitForReports(2);
  await severalPasses('notes:large');
  assert.deepEqual(reports.map((r) => `${r.kind} ${r.name}`), ['warn notes:small', 'exceeded notes:small']);
});
