// Limits and replays against the front server before a real supervisor and real instances: a
// request that kills its instance is answered 502 once and never sent again; a client that reads
// nothing is cut off and releases the instance; max_connections; a head dripping in pieces costs
// linear work.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { RequestStats } from '../core/request-stats.js';
import type { SupervisorApi } from '../supervisor/types.js';
import { APPS, waitFor } from '../../test/helpers/daemon.js';
import { openRaw, rawUntilClosed } from '../../test/helpers/raw-http.js';
import type { RawConversation } from '../../test/helpers/raw-http.js';
import { startSupervisor } from '../../test/helpers/real-supervisor.js';
import { createFrontServer } from './server.js';

const silent = { warn: () => undefined, error: () => undefined };

/** Its own slice of port_range, so concurrent test files never race for ports. */
function configText(settings: string, services: string): string {
  return `[settings]\nport_range = [28000, 29999]\nhealth_check_interval = 0.2\n${settings}\n\n${services}`;
}

function service(name: string, app: string, extra = ''): string {
  return `[service.${name}]\ncommand = "node ${join(APPS, app)}"\nhealth = "/health"\nstop_timeout = 2\n${extra}\n`;
}

async function startProxy(t: TestContext, supervisor: SupervisorApi): Promise<number> {
  const server = createFrontServer({ supervisor, domain: 'localhost', stats: new RequestStats(), logger: silent,
    management: (_req, res) => res.end('management\n') });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return (server.address() as AddressInfo).port;
}

test('a request that kills its instance gets one 502 and is never sent again, to that instance or another', async (t) => {
  const { supervisor, events, lifecycle } = await startSupervisor(t, configText('backoff_base_ms = 100', service('hostile', 'hostile-app.mjs')));
  await Promise.all([supervisor.spawn('hostile', 'a', { wait: true }), supervisor.spawn('hostile', 'b', { wait: true })]);
  const seen: string[] = [];
  events.on('output', (e) => { if (e.line.startsWith('request GET /die')) seen.push(e.instance); });
  const port = await startProxy(t, supervisor);

  const text = await rawUntilClosed(port, 'GET /die HTTP/1.1\r\nHost: hostile.localhost\r\nConnection: close\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  // Both instances are up again (the dead one restarted): any replay would have happened by now.
  await waitFor(() => ['a', 'b'].every((id) => supervisor.info('hostile', id).state === 'running')
    && lifecycle.some((e) => e.kind === 'ready' && e.cause === 'restart'), 15_000, 'the killed instance to restart');
  assert.equal(seen.length, 1, `one request, delivered once: ${seen.join(', ')}`);
  assert.equal(lifecycle.filter((e) => e.kind === 'crash').length, 1, 'one crash');
});

test('a client that reads none of its response is cut off after request_timeout and no longer keeps the instance awake', async (t) => {
  const { supervisor } = await startSupervisor(t, configText('', service('api', 'proxy-app.mjs', 'request_timeout = 1\nidle_timeout = 1')));
  await supervisor.spawn('api', 'prod', { wait: true });
  const inst = supervisor.get('api', 'prod')!;
  const port = await startProxy(t, supervisor);
  const client = await openRaw(port);
  t.after(() => client.socket.destroy());
  client.socket.pause();
  client.send('GET /download?mb=256 HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
  await waitFor(() => inst.openConnections === 1, 5000, 'the download to start');
  await waitFor(() => inst.openConnections === 0, 15_000, 'the non-reading client to be cut off');
  await waitFor(() => inst.state === 'idle' && supervisor.info('api', 'prod').pid === null, 15_000, 'the instance to idle');
});

test('over max_connections a new connection gets 503 and is closed; the ones held go on', async (t) => {
  const { supervisor } = await startSupervisor(t, configText('max_connections = 3', service('api', 'proxy-app.mjs')));
  await supervisor.spawn('api', 'prod', { wait: true });
  const port = await startProxy(t, supervisor);
  const held: RawConversation[] = [];
  for (let i = 0; i < 3; i++) {
    const conv = await openRaw(port);
    t.after(() => conv.socket.destroy());
    conv.send('GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
    await conv.until((text) => text.includes('"instance":"api:prod"'));
    held.push(conv);
  }
  const refused = await rawUntilClosed(port, 'GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
  assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*retry-after: 1\r\n/i);
  assert.doesNotMatch(refused, /api:prod/);
  held[0]!.send('GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
  await held[0]!.until((text) => text.split('"instance":"api:prod"').length === 3);
  held[1]!.socket.destroy();
  await waitFor(async () => (await rawUntilClosed(port, 'GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\nConnection: close\r\n\r\n')).includes('api:prod'), 5000, 'a freed slot to be usable');
});

test('a head dripping in small pieces costs work linear in its size (each byte copied and searched a bounded number of times)', async (t) => {
  const { supervisor } = await startSupervisor(t, configText('', service('api', 'proxy-app.mjs')));
  await supervisor.spawn('api', 'prod', { wait: true });
  const port = await startProxy(t, supervisor);
  const head = Buffer.from(`GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\nX-Pad: ${'p'.repeat(12 * 1024)}\r\n\r\n`, 'latin1');
  const client = await openRaw(port);
  t.after(() => client.socket.destroy());

  // Bytes touched by the Buffer operations a head accumulator uses, while this one head arrives.
  let touched = 0;
  const concat = Buffer.concat;
  const copy = Buffer.prototype.copy;
  const indexOf = Buffer.prototype.indexOf;
  Buffer.concat = function (list: readonly Uint8Array[], length?: number) {
    for (const b of list) touched += b.length;
    return concat.call(Buffer, list, length);
  } as typeof Buffer.concat;
  Buffer.prototype.copy = function (this: Buffer, target: Uint8Array, targetStart?: number, sourceStart = 0, sourceEnd = this.length): number {
    touched += sourceEnd - sourceStart;
    return copy.call(this, target, targetStart, sourceStart, sourceEnd);
  };
  Buffer.prototype.indexOf = function (this: Buffer, value: string | number | Uint8Array, byteOffset?: number | BufferEncoding, encoding?: BufferEncoding): number {
    touched += this.length - (typeof byteOffset === 'number' ? byteOffset : 0);
    return indexOf.call(this, value, byteOffset as number, encoding);
  };
  const restore = (): void => {
    Buffer.concat = concat;
    Buffer.prototype.copy = copy;
    Buffer.prototype.indexOf = indexOf;
  };
  t.after(restore);
  try {
    for (let i = 0; i < head.length; i += 64) {
      client.send(head.subarray(i, i + 64));
      await new Promise((r) => setImmediate(r));
    }
    await client.until((text) => text.includes('"instance":"api:prod"'));
  } finally {
    restore();
  }
  assert.ok(touched < 16 * head.length, `${touched} bytes touched for a ${head.length}-byte head in ${Math.ceil(head.length / 64)} pieces`);
});

test('an exception while serving one request closes that connection only; the server and other connections go on', async (t) => {
  const { supervisor } = await startSupervisor(t, configText('', service('api', 'proxy-app.mjs')));
  await supervisor.spawn('api', 'prod', { wait: true });
  const errors: unknown[] = [];
  const server = createFrontServer({ supervisor, domain: 'localhost', stats: new RequestStats(), logger: { warn: () => undefined, error: (o) => errors.push(o) },
    management: (req, res) => {
      if (req.url === '/api/bug') throw new Error('a bug in a handler');
      res.end('management\n');
    } });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  const port = (server.address() as AddressInfo).port;

  const other = await openRaw(port);
  t.after(() => other.socket.destroy());
  other.send('GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
  await other.until((text) => text.includes('"instance":"api:prod"'));

  assert.equal(await rawUntilClosed(port, 'GET /api/bug HTTP/1.1\r\nHost: localhost\r\n\r\n'), '', 'the connection of the failing request is closed');
  assert.equal(errors.length, 1, 'the bug is logged');
  other.send('GET /whoami HTTP/1.1\r\nHost: prod.api.localhost\r\n\r\n');
  await other.until((text) => text.split('"instance":"api:prod"').length === 3);
  assert.match(await rawUntilClosed(port, 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), /management/);
});
