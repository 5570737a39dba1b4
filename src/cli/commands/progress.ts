/**
 * Waiting for an instance with visible progress: while the API call that waits for health runs,
 * the elapsed time is shown (redrawn on a terminal), and with `pollState` also the instance's
 * state (one line per new state off a terminal).
 * @module
 */
import type { InstanceInfo } from '../../api/contract.js';
import type { CliContext } from '../command.js';
import { formatElapsed } from '../output.js';

const POLL_MS = 250;

export async function waitWithProgress<T extends InstanceInfo>(
  ctx: CliContext, name: string, verb: string, call: () => Promise<T>, pollState?: () => Promise<string>,
): Promise<{ info: T; elapsed: string }> {
  const status = ctx.status();
  const started = Date.now();
  let state = 'starting';
  status.update(`${verb} ${name} … ${state}`, `${verb} ${name}`);
  const timer = setInterval(() => {
    status.update(`${verb} ${name} … ${state} ${formatElapsed(Date.now() - started)}`);
    pollState?.().then((polled) => {
      state = polled;
      status.update(`${verb} ${name} … ${state} ${formatElapsed(Date.now() - started)}`, `${name} ${state}`);
    }, () => { /* not registered yet, or a transient error: the waiting call reports failures */ });
  }, POLL_MS);
  try {
    const info = await call();
    return { info, elapsed: formatElapsed(Date.now() - started) };
  } finally {
    clearInterval(timer);
    status.clear();
  }
}
