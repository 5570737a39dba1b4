/**
 * Shared bits of the proxy end-to-end tests: instance state over the API, raw requests through
 * the daemon with a Host header, and the config fragment for the proxy fixture app.
 * @module
 */
import { request } from 'node:http';
import type { Daemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/daemon.js';

export const APP_SERVICE = (name: string, extra = ''): string => `
[service.${name}]
command = "node {apps}/proxy-app.mjs"
health = "/health"
startup_timeout = 10
${extra}
`;

export interface InstanceRow { instance: string; state: string; pid: number | null; restarts: number; weight: number }

export async function instances(d: Daemon): Promise<InstanceRow[]> {
  const r = await d.http('/api/instances', { headers: { authorization: `Bearer ${d.token}` } });
  if (r.status !== 200) throw new Error(`GET /api/instances: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as InstanceRow[];
}

export async function stateOf(d: Daemon, name: string): Promise<string | undefined> {
  return (await instances(d)).find((i) => i.instance === name)?.state;
}

export function waitForState(d: Daemon, name: string, state: string, timeoutMs = 20_000): Promise<true> {
  return waitFor(async () => (await stateOf(d, name)) === state, timeoutMs, () => `${name} to be ${state}`);
}

export interface RawReply { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** A request through the daemon with a Host header; binary-safe body. */
export function through(d: Daemon, host: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: d.port, path, method: options.method ?? 'GET', agent: false,
      headers: { host, ...options.headers }, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${host}${path} hung`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Waits until `host` answers 200 on /whoami (instances from [instances] boot in the background). */
export function waitForAnswer(d: Daemon, host: string): Promise<true> {
  return waitFor(async () => (await through(d, host, '/whoami').catch(() => ({ status: 0 }))).status === 200, 20_000, () => `${host} to answer`);
}
