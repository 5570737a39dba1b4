// Supervisor.restartOn, the move of `ten rollout` and of its rollback, with real processes: an
// instance restarts on the template it is given, and a request that wakes it while the old
// process is stopping starts it on that template too, not on the one in effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/load.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';

const APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/apps');
const toml = (greeting: string): string =>
  `[settings]\nport_range = [24000, 24999]\n[service.notes]\ncommand = "node ${join(APPS, 'ok.mjs')}"\nhealth = "/health"\nidle_timeout = 0\nstop_timeout = 2\nenv = { GREETING = "${greeting}" }\n`;

async function greeting(port: number | null): Promise<string> {
  const env = await (await fetch(`http://127.0.0.1:${port}/env`)).json() as Record<string, string>;
  return env.GREETING ?? '';
}

test('restartOn moves an instance to a template and back; a wake during the stop uses the same template', async (t) => {
  const h = await startSupervisor(t, toml('one'));
  await h.supervisor.spawn('notes', 'a', { wait: true });
  const old = h.supervisor.get('notes', 'a')!.serviceConfig;
  h.supervisor.applyConfig(parseConfig(toml('two'), join(h.dir, 'tenement.toml')));
  assert.equal(h.supervisor.info('notes', 'a').outdated, true);

  await h.supervisor.restartOn('notes', 'a', h.supervisor.config.services.notes!);
  let info = h.supervisor.info('notes', 'a');
  assert.deepEqual([info.state, info.outdated, await greeting(info.port)], ['running', false, 'two']);

  // As the proxy does for a request that finds the instance stopped: it wakes it meanwhile.
  const handle = h.supervisor.get('notes', 'a')!;
  let woken: Promise<void> | undefined;
  const onState = (e: { instance: string; to: string }): void => {
    if (e.instance === 'notes:a' && e.to === 'stopped' && woken === undefined) setImmediate(() => { woken = h.supervisor.ensureReady(handle); });
  };
  h.events.on('state', onState);
  await h.supervisor.restartOn('notes', 'a', old);
  h.events.off('state', onState);
  assert.ok(woken !== undefined, 'a wake came while it was stopped');
  await woken;
  info = h.supervisor.info('notes', 'a');
  assert.deepEqual([info.state, info.outdated, await greeting(info.port)], ['running', true, 'one']);
  assert.equal(h.supervisor.get('notes', 'a')!.serviceConfig, old, 'the very template object it ran before');
});
