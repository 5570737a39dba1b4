/**
 * Waiting for an instance with visible progress: while the API call that waits for health runs,
 * the instance's state is polled and shown (redrawn with elapsed time on a terminal, one line per
 * new state otherwise). Also builds instance URLs from `GET /api/server`.
 * @module
 */
import type { InstanceInfo } from '../../api/contract.js';
import type { ApiClient } from '../client.js';
import type { CliContext } from '../command.js';
import { formatElapsed } from '../output.js';

const POLL_MS = 250;

export async function waitWithProgress(
  ctx: CliContext, name: string, verb: string, call: () => Promise<InstanceInfo>,
): Promise<{ info: InstanceInfo; elapsed: string }> {
  const status = ctx.status();
  const client = ctx.client();
  const started = Date.now();
  let state = 'starting';
  status.update(`${verb} ${name} … ${state}`, `${verb} ${name}`);
  const timer = setInterval(() => {
    status.update(`${verb} ${name} … ${state} ${formatElapsed(Date.now() - started)}`);
    client.info(name).then((info) => {
      state = info.state;
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

/** `http://{id}.{service}.{domain}:{port}/` as the server sees itself. */
export async function instanceUrl(client: ApiClient, service: string, id: string): Promise<string> {
  const { domain, port } = await client.server();
  return `http://${id}.${service}.${domain}${port === 80 ? '' : `:${port}`}/`;
}
