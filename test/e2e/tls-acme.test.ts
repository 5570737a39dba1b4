// `ten serve` with `[settings.tls] enabled = true` against Pebble (Let's Encrypt's test CA) on
// loopback: certificates issued at the first handshake for names that route and never for others,
// plain HTTP redirected, reuse after a restart, renewal near expiry, TLS 1.2+ only, h2 by ALPN.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import type { Daemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/net.js';
import { startPebble } from '../helpers/pebble.js';
import type { Pebble } from '../helpers/pebble.js';
import { h2Get, httpsGet } from '../helpers/tls-client.js';

const DOMAIN = 'example.test';
const ALICE = `alice.notes.${DOMAIN}`;

interface TlsServer {
  readonly d: Daemon;
  readonly pebble: Pebble;
  readonly httpsPort: number;
  readonly httpPort: number;
  readonly root: string;
}

function config(pebble: Pebble, httpsPort: number, extra = ''): string {
  return `
[settings.tls]
enabled = true
domain = "${DOMAIN}"
https_port = ${httpsPort}
acme_directory = "${pebble.directory}"
${extra}

[service.notes]
command = "node {apps}/proxy-app.mjs"
health = "/health"

[instances]
notes = ["alice"]
`;
}

async function startTlsServer(t: TestContext, options: { validitySeconds?: number; extra?: string; dir?: string; pebble?: Pebble; ports?: [number, number] } = {}): Promise<TlsServer> {
  const [httpPort, httpsPort] = options.ports ?? [await freePort(), await freePort()];
  const pebble = options.pebble ?? await startPebble((undo) => t.after(undo), { httpPort, validitySeconds: options.validitySeconds });
  const d = await startDaemon(t, {
    config: config(pebble, httpsPort, options.extra), domain: DOMAIN, dir: options.dir,
    extraArgs: ['--port', String(httpPort)], env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
  });
  await waitFor(async () => (await d.ten(['ps', '--json'])).stdout.includes('"running"'), 15_000, 'alice running');
  return { d, pebble, httpsPort, httpPort, root: await pebble.root() };
}

test('a registered instance gets a certificate at its first handshake; the app answers with X-Forwarded-Proto: https and HSTS', async (t) => {
  const s = await startTlsServer(t);
  assert.equal(s.pebble.orders(), 0, 'nothing ordered before a client asks');
  const answer = await httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/headers' });
  assert.equal(answer.status, 200);
  assert.match(answer.cert.subjectaltname ?? '', new RegExp(`DNS:${ALICE.replaceAll('.', '\\.')}`));
  const seen = JSON.parse(answer.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers.host, `${ALICE}:${s.httpsPort}`);
  assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
  assert.ok(answer.protocol === 'TLSv1.3' || answer.protocol === 'TLSv1.2');
  assert.equal(s.pebble.orders(), 1);

  // The second connection reuses the certificate: same serial, no new order.
  const again = await httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/whoami' });
  assert.equal(again.cert.serialNumber, answer.cert.serialNumber);
  assert.equal(s.pebble.orders(), 1);

  // Kept in the data dir, readable by the owner only.
  const tlsDir = join(s.d.dataDir, 'tls');
  for (const file of ['account.key', join('certificates', `${ALICE}.pem`)]) {
    assert.equal(statSync(join(tlsDir, file)).mode & 0o777, 0o600, `${file} is 0600`);
  }
  assert.equal(statSync(tlsDir).mode & 0o777, 0o700);

  // tenement's own answers over HTTPS carry HSTS too, and the metrics show the certificate.
  const health = await httpsGet(s.httpsPort, { servername: DOMAIN, ca: s.root, path: '/health' });
  assert.equal(health.status, 200);
  assert.equal(health.headers['strict-transport-security'], 'max-age=31536000');
  const missing = await httpsGet(s.httpsPort, { servername: DOMAIN, ca: s.root, path: '/api/nothing-here' });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['strict-transport-security'], 'max-age=31536000');
  const metrics = await httpGet(s.httpPort, '/metrics', { host: '127.0.0.1', headers: { authorization: `Bearer ${s.d.token}` } });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, new RegExp(`tenement_tls_certificate_expiry_timestamp_seconds\\{name="${ALICE.replaceAll('.', '\\.')}",source="acme"\\} \\d+`));
  assert.match(metrics.body, /tenement_tls_certificate_orders_total\{result="issued"\} 2/);
  assert.match(metrics.body, /tenement_tls_certificate_orders_total\{result="failed"\} 0/);
});

test('a name that does not route gets no certificate, and Pebble sees no order for it', async (t) => {
  const s = await startTlsServer(t);
  for (const name of [`mallory.notes.${DOMAIN}`, `other.${DOMAIN}`, 'example.org', 'localhost', `a.b.c.${DOMAIN}`]) {
    await assert.rejects(httpsGet(s.httpsPort, { servername: name, ca: s.root }), `handshake for ${name} refused`);
  }
  assert.equal(s.pebble.orders(), 0);
  assert.doesNotMatch(s.pebble.log(), /mallory|example\.org/);
  // The server is unharmed: a routed name still works.
  assert.equal((await httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/whoami' })).status, 200);
  assert.equal(s.pebble.orders(), 1);

  // Once registered, a name routes: `ten spawn` prints its https URL and its first visit gets a certificate.
  const spawned = await s.d.ten(['spawn', 'notes:mallory']);
  assert.equal(spawned.code, 0, spawned.stderr);
  assert.match(spawned.stdout, new RegExp(`https://mallory\\.notes\\.example\\.test:${s.httpsPort}/`));
  const mallory = await httpsGet(s.httpsPort, { servername: `mallory.notes.${DOMAIN}`, ca: s.root, path: '/whoami' });
  assert.equal(mallory.status, 200);
  assert.match(mallory.body, /notes:mallory/);
  assert.equal(s.pebble.orders(), 2);
});

test('concurrent first handshakes for one name share one order', async (t) => {
  const s = await startTlsServer(t);
  const answers = await Promise.all(Array.from({ length: 6 }, () => httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/whoami' })));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
  assert.equal(new Set(answers.map((a) => a.cert.serialNumber)).size, 1);
  assert.equal(s.pebble.orders(), 1);
});

test('orders_per_hour caps new orders, and a failed name is backed off instead of reordered', async (t) => {
  const s = await startTlsServer(t, { extra: 'orders_per_hour = 2' });
  // Pebble cannot validate this name (its DNS points elsewhere): the order fails.
  await s.pebble.breakDns(ALICE);
  await assert.rejects(httpsGet(s.httpsPort, { servername: ALICE, ca: s.root }));
  assert.equal(s.pebble.orders(), 1);
  await waitFor(() => s.d.output().includes('certificate order failed'), 10_000, 'the failure logged');
  await assert.rejects(httpsGet(s.httpsPort, { servername: ALICE, ca: s.root }));
  assert.equal(s.pebble.orders(), 1, 'backed off: no second order for the failed name');
  // The bare domain uses the second order of the hour; the service name would be a third.
  assert.equal((await httpsGet(s.httpsPort, { servername: DOMAIN, ca: s.root, path: '/health' })).status, 200);
  assert.equal(s.pebble.orders(), 2);
  await assert.rejects(httpsGet(s.httpsPort, { servername: `notes.${DOMAIN}`, ca: s.root }));
  assert.equal(s.pebble.orders(), 2, 'over the hourly cap: not ordered');
  const metrics = await httpGet(s.httpPort, '/metrics', { host: '127.0.0.1', headers: { authorization: `Bearer ${s.d.token}` } });
  assert.match(metrics.body, /tenement_tls_certificate_orders_total\{result="failed"\} 1/);
});

test('plain HTTP is redirected to HTTPS with 308, ACME challenges and the local CLI excepted', async (t) => {
  const s = await startTlsServer(t);
  const get = await httpGet(s.httpPort, '/notes?x=1', { host: ALICE });
  assert.equal(get.status, 308);
  assert.equal(get.headers.location, `https://${ALICE}:${s.httpsPort}/notes?x=1`);
  const post = await httpGet(s.httpPort, '/upload', { host: `${ALICE}:${s.httpPort}`, method: 'POST', body: 'data' });
  assert.equal(post.status, 308);
  assert.equal(post.headers.location, `https://${ALICE}:${s.httpsPort}/upload`);
  assert.equal((await httpGet(s.httpPort, '/', { host: 'bad host\\x' })).status, 400);
  // An unknown challenge token is a 404, not a redirect (the CA would not follow it to HTTPS).
  assert.equal((await httpGet(s.httpPort, '/.well-known/acme-challenge/unknown', { host: ALICE })).status, 404);
  // The CLI on this host reaches the API over the plain port.
  const ps = await s.d.ten(['ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /notes:alice/);
});

test('TLS 1.1 is refused and TLS 1.2 accepted; h2 is negotiated for a client that offers it', async (t) => {
  const s = await startTlsServer(t);
  // Old protocol versions need OpenSSL's lowest security level on the client side.
  const old = { servername: ALICE, ca: s.root, ciphers: 'DEFAULT@SECLEVEL=0', minVersion: 'TLSv1' } as const;
  await assert.rejects(httpsGet(s.httpsPort, { ...old, maxVersion: 'TLSv1.1' }), /protocol version|unsupported protocol|wrong version/i);
  const tls12 = await httpsGet(s.httpsPort, { ...old, maxVersion: 'TLSv1.2', path: '/whoami' });
  assert.equal(tls12.status, 200);
  assert.equal(tls12.protocol, 'TLSv1.2');

  const h2 = await h2Get(s.httpsPort, { servername: ALICE, ca: s.root, path: '/headers' });
  assert.equal(h2.alpn, 'h2');
  assert.equal(h2.status, 200);
  assert.equal(h2.headers['strict-transport-security'], 'max-age=31536000');
  const seen = JSON.parse(h2.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers.host, `${ALICE}:${s.httpsPort}`, 'the instance gets :authority as Host over HTTP/1.1');
  const posted = await h2Get(s.httpsPort, { servername: ALICE, ca: s.root, path: '/echo', method: 'POST', body: 'over h2' });
  assert.equal(posted.status, 200);
  assert.match(posted.body, /over h2/);
  // A client without h2 gets HTTP/1.1 on the same port.
  const h1 = await httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/whoami' });
  assert.equal(h1.alpn, false);
});

test('a certificate survives a server restart: no new order', async (t) => {
  const dir = tempDir(t);
  const first = await startTlsServer(t, { dir });
  const before = await httpsGet(first.httpsPort, { servername: ALICE, ca: first.root, path: '/whoami' });
  assert.equal(first.pebble.orders(), 1);
  assert.equal(await first.d.stop(), 0);
  const second = await startTlsServer(t, { dir, pebble: first.pebble, ports: [first.httpPort, first.httpsPort] });
  const after = await httpsGet(second.httpsPort, { servername: ALICE, ca: second.root, path: '/whoami' });
  assert.equal(after.status, 200);
  assert.equal(after.cert.serialNumber, before.cert.serialNumber);
  assert.equal(first.pebble.orders(), 1);
  assert.deepEqual(readdirSync(join(dir, 'data', 'tls', 'certificates')), [`${ALICE}.pem`]);
});

test('a certificate near expiry is renewed in the background; a failed renewal keeps serving it and logs why', async (t) => {
  // 20 s certificates renewed when less than 70 % is left: 6 s after issuance.
  const s = await startTlsServer(t, { validitySeconds: 20, extra: 'renewal_window_ratio = 0.7' });
  const first = await httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/whoami' });
  const renewed = await waitFor(async () => {
    const now = await httpsGet(s.httpsPort, { servername: ALICE, ca: s.root, path: '/whoami' });
    return now.cert.serialNumber !== first.cert.serialNumber ? now : undefined;
  }, 20_000, 'a renewed certificate');
  assert.equal(renewed.status, 200);
  assert.match(s.d.output(), /certificate renewed/);
  assert.equal(s.pebble.orders(), 2);

  // The CA goes away: the next renewal fails, the current certificate stays in use.
  await s.pebble.stop();
  await waitFor(() => /certificate renewal failed: serving the current certificate/.test(s.d.output()), 20_000, () => `the failed renewal logged:\n${s.d.output()}`);
  assert.match(s.d.output(), /"reason":"cannot reach the ACME server at https:\/\/127\.0\.0\.1:\d+\/dir/);
  const still = await httpsGet(s.httpsPort, { servername: ALICE, path: '/whoami' });
  assert.equal(still.status, 200);
  const stored = new X509Certificate(readFileSync(join(s.d.dataDir, 'tls', 'certificates', `${ALICE}.pem`)));
  assert.equal(still.cert.serialNumber, stored.serialNumber, 'the last issued certificate is served');
  assert.notEqual(still.cert.serialNumber, first.cert.serialNumber);
});
