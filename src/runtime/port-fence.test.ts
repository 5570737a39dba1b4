// The port fence's nftables table, loaded for real: named after the data dir (parallel servers
// never share one), a crashed server's stale table replaced whole, deleted at a clean exit; and
// a connection into the port range refused to every uid but tenement's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fenceTableName, instanceCgroupMatch, PortFence } from './port-fence.js';

const listTable = (table: string): string => {
  try {
    return execFileSync('nft', ['list', 'table', 'inet', table], { encoding: 'utf8' });
  } catch {
    return '';
  }
};

test('each data dir gets its own table; a stale one is replaced whole and a clean exit deletes it', async (t) => {
  const dataDir = `/tmp/tenement-fence-test-${process.pid}`;
  assert.notEqual(fenceTableName(dataDir), fenceTableName(`${dataDir}-other`));
  const crashed = new PortFence({ dataDir, portRange: [23000, 23099] });
  await crashed.install();
  const fence = new PortFence({ dataDir, portRange: [23100, 23199] });
  t.after(() => fence.remove());
  await fence.install();
  const rules = listTable(fence.table);
  assert.match(rules, /tcp dport 23100-23199 .*meta skuid != 0 reject with tcp reset/);
  assert.doesNotMatch(rules, /23000-23099/, 'the stale rules are gone');
  await fence.remove();
  assert.equal(listTable(fence.table), '', 'deleted');
});

test('only tenement\'s uid may connect into the port range; other ports stay open to everyone', async (t) => {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(23250, '127.0.0.1', resolve));
  t.after(() => server.close());
  // Not port 0: an ephemeral port can fall inside another server's fenced range (30000-40000 by default).
  const outside = createServer((socket) => socket.end());
  await listenOnFirstFree(outside, 23300, 23399);
  t.after(() => outside.close());
  const fence = new PortFence({ dataDir: `/tmp/tenement-fence-uid-${process.pid}`, portRange: [23200, 23299] });
  t.after(() => fence.remove());
  await fence.install();

  const connectAs = (uid: number, port: number): Promise<string> => new Promise((resolve) => {
    const code = `require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0); })
      .on('error', (e) => { console.log(e.code); process.exit(0); })`;
    const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', code]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.once('exit', () => resolve(out.trim()));
  });
  assert.equal(await connectAs(0, 23250), 'connected');
  assert.equal(await connectAs(65534, 23250), 'ECONNREFUSED');
  assert.equal(await connectAs(65534, (outside.address() as AddressInfo).port), 'connected');
});

async function listenOnFirstFree(server: Server, low: number, high: number): Promise<void> {
  for (let port = low; port <= high; port++) {
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) return;
  }
  throw new Error(`no free port in ${low}-${high}`);
}

test('sockets of instances are matched by their cgroup2 parent, named as nft resolves it', () => {
  assert.deepEqual(instanceCgroupMatch('/sys/fs/cgroup/unified', '/sys/fs/cgroup/unified/tenement.ab12'), { path: 'unified/tenement.ab12', level: 1 });
  assert.deepEqual(instanceCgroupMatch('/sys/fs/cgroup', '/sys/fs/cgroup/system.slice/tenement.service/tenement.ab12'), {
    path: 'system.slice/tenement.service/tenement.ab12', level: 3,
  });
  assert.equal(instanceCgroupMatch('/mnt/cg2', '/mnt/cg2/tenement.ab12'), undefined, 'nft only resolves paths under /sys/fs/cgroup');
  assert.equal(instanceCgroupMatch(undefined, undefined), undefined);
});
