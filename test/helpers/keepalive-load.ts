/**
 * A bounded keep-alive load for restart tests: `connections` node http.Agent keep-alive sockets
 * send GETs round-robin over `hosts` back to back until `stop()` is called or `maxRequests` were
 * sent, and count every outcome (status, or the socket error's code).
 * @module
 */
import { Agent, request } from 'node:http';

export interface LoadResult {
  requests: number;
  /** status or error code → count, for everything but 2xx. */
  failures: Record<string, number>;
  /** How many distinct sockets carried requests (reconnects after `Connection: close` add to it). */
  sockets: number;
}

export function keepAliveLoad(port: number, hosts: readonly string[], options: { connections?: number; maxRequests?: number } = {}): { stop(): Promise<LoadResult>; count(): number } {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections ?? 8 });
  const maxRequests = options.maxRequests ?? 200_000;
  const result: LoadResult = { requests: 0, failures: {}, sockets: 0 };
  const seen = new WeakSet<object>();
  let stopping = false;
  let sent = 0;
  const fail = (why: string): void => { result.failures[why] = (result.failures[why] ?? 0) + 1; };
  const one = (): Promise<void> => new Promise((resolve) => {
    const host = hosts[sent++ % hosts.length]!;
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 30_000 }, (res) => {
      res.resume();
      res.once('end', () => {
        result.requests++;
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) fail(String(res.statusCode));
        resolve();
      });
      res.once('error', (err: NodeJS.ErrnoException) => { fail(err.code ?? err.message); resolve(); });
    });
    req.once('socket', (s) => { if (!seen.has(s)) { seen.add(s); result.sockets++; } });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err: NodeJS.ErrnoException) => { result.requests++; fail(err.code ?? err.message); resolve(); });
    req.end();
  });
  const worker = async (): Promise<void> => {
    while (!stopping && sent < maxRequests) await one();
  };
  const workers = Array.from({ length: options.connections ?? 8 }, worker);
  return {
    count: () => result.requests,
    async stop(): Promise<LoadResult> {
      stopping = true;
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}
