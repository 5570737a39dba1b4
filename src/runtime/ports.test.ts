// Every instance gets a port of its own that it can really bind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { TenementError } from '../core/errors.js';
import { PortAllocator } from './ports.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port the kernel just called free (bound on port 0, then closed). */
async function freePort(): Promise<number> {
  const server = await listen(0);
  const { port } = server.address() as { port: number };
  await close(server);
  return port;
}

test('50 parallel allocations get 50 distinct ports inside the range', async () => {
  const ports = new PortAllocator([47000, 47999]);
  const got = await Promise.all(Array.from({ length: 50 }, () => ports.allocate()));
  assert.equal(new Set(got).size, 50);
  for (const port of got) assert.ok(port >= 47000 && port <= 47999, `${port} is in range`);
});

test('a port someone else is listening on is skipped', async (t) => {
  const busy = await listen(0);
  t.after(() => close(busy));
  const { port } = busy.address() as { port: number };
  const ports = new PortAllocator([port, port + 20]);
  const got = await ports.allocate();
  assert.notEqual(got, port);
  const server = await listen(got);
  await close(server);
});

test('a released port can be handed out again', async () => {
  const port = await freePort();
  const ports = new PortAllocator([port, port]);
  assert.equal(await ports.allocate(), port);
  await assert.rejects(ports.allocate(), (err: TenementError) => err.code === 'unavailable');
  ports.release(port);
  assert.equal(await ports.allocate(), port);
});

test('a reserved port (a re-adopted instance) is not handed out', async () => {
  const port = await freePort();
  const ports = new PortAllocator([port, port]);
  assert.equal(ports.reserve(port), true);
  assert.equal(ports.reserve(port), false);
  await assert.rejects(ports.allocate(), (err: TenementError) => err.code === 'unavailable');
});

test('an exhausted range is refused with unavailable, naming the range', async (t) => {
  const busy = await listen(0);
  t.after(() => close(busy));
  const { port } = busy.address() as { port: number };
  const ports = new PortAllocator([port, port]);
  await assert.rejects(ports.allocate(), (err: unknown) => {
    assert.ok(err instanceof TenementError);
    assert.equal(err.code, 'unavailable');
    assert.equal(err.message, `no free port in ${port}-${port}`);
    return true;
  });
});

test('successive allocations move through the range instead of restarting at its low end', async () => {
  const ports = new PortAllocator([47000, 47999]);
  const first = await ports.allocate();
  ports.release(first);
  const second = await ports.allocate();
  assert.notEqual(second, first);
});
