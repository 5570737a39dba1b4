// `[settings.tls]` with the user's own certificates (cert_file + key_file pairs): SNI picks the
// pair that names the host, a name no pair covers gets no certificate, no CA is involved; a pair
// that does not load stops ten serve at start, naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as h2Connect } from 'node:http2';
import { connect } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import WebSocket from 'ws';
import { TEN, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import { freePort } from '../helpers/net.js';
import { h2Get, httpsGet } from '../helpers/tls-client.js';

function selfSigned(dir: string, name: string, sans: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${sans}`], { stdio: 'ignore' });
  return { cert, key };
}

function config(httpsPort: number, certs: string[], keys: string[]): string {
  return `
[settings.tls]
enabled = true
domain = "example.test"
https_port = ${httpsPort}
cert_file = ${JSON.stringify(certs)}
key_file = ${JSON.stringify(keys)}

[service.notes]
command = "node {apps}/proxy-app.mjs"
health = "/health"

[instances]
notes = ["alice"]
`;
}

test('SNI picks among the certificates the user brings; a name none covers is refused', async (t) => {
  const certs = tempDir(t);
  const wildcard = selfSigned(certs, 'wildcard', 'DNS:*.notes.example.test,DNS:notes.example.test');
  const apex = selfSigned(certs, 'apex', 'DNS:example.test');
  const httpsPort = await freePort();
  const d = await startDaemon(t, { config: config(httpsPort, [wildcard.cert, apex.cert], [wildcard.key, apex.key]), domain: 'example.test' });
  assert.match(d.output(), /certificates from cert_file/);
  await waitFor(async () => (await d.ten(['ps', '--json'])).stdout.includes('"running"'), 15_000, 'alice running');

  const alice = await httpsGet(httpsPort, { servername: 'alice.notes.example.test', ca: readFileSync(wildcard.cert, 'utf8'), path: '/headers' });
  assert.equal(alice.status, 200);
  assert.equal(alice.cert.subject.CN, 'wildcard');
  assert.equal((JSON.parse(alice.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
  const service = await h2Get(httpsPort, { servername: 'notes.example.test', ca: readFileSync(wildcard.cert, 'utf8'), path: '/whoami' });
  assert.equal(service.status, 200);
  assert.equal(service.alpn, 'h2');
  const bare = await httpsGet(httpsPort, { servername: 'example.test', ca: readFileSync(apex.cert, 'utf8'), path: '/health' });
  assert.equal(bare.status, 200);
  assert.equal(bare.cert.subject.CN, 'apex');
  // tenement's own handler answers over h2 too (the bridge hands it to the same front).
  const api = await h2Get(httpsPort, { servername: 'example.test', ca: readFileSync(apex.cert, 'utf8'), path: '/api/instances' });
  assert.equal(api.status, 401);
  assert.equal(api.headers['strict-transport-security'], 'max-age=31536000');
  assert.match(api.body, /"code":"unauthorized"/);
  // Plain HTTP on the HTTPS port is dropped; the server goes on.
  const plain = connect(httpsPort, '127.0.0.1');
  plain.on('error', () => undefined);
  plain.end('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n');
  await once(plain, 'close');
  assert.equal((await httpsGet(httpsPort, { servername: 'example.test', ca: readFileSync(apex.cert, 'utf8'), path: '/health' })).status, 200);

  // One label only: a wildcard does not cover deeper names or other domains.
  await assert.rejects(httpsGet(httpsPort, { servername: 'x.alice.notes.example.test' }));
  await assert.rejects(httpsGet(httpsPort, { servername: 'other.test' }));
  assert.doesNotMatch(d.output(), /certificate issued|order/);

  // A WebSocket over TLS (wss://) is tunnelled to the app like a plain one.
  // ws hands `servername` on to tls.connect; its types do not list it.
  const wsOptions = { servername: 'alice.notes.example.test', ca: readFileSync(wildcard.cert, 'utf8'), headers: { host: 'alice.notes.example.test' } };
  const ws = new WebSocket(`wss://127.0.0.1:${httpsPort}/ws`, wsOptions as WebSocket.ClientOptions);
  const got: string[] = [];
  ws.on('message', (m) => got.push(m.toString()));
  await once(ws, 'open');
  ws.send('over tls');
  await waitFor(() => got.length >= 2, 10_000, 'the echo');
  assert.deepEqual(got, ['hello from notes:alice forwarded', 'over tls']);
  ws.close();
  await once(ws, 'close');
});

test('a certificate whose key does not match stops ten serve at start, naming the key (exit 2)', async (t) => {
  const dir = tempDir(t);
  const one = selfSigned(dir, 'one', 'DNS:example.test');
  const two = selfSigned(dir, 'two', 'DNS:*.example.test');
  const file = join(dir, 'tenement.toml');
  writeFileSync(file, config(await freePort(), [one.cert, two.cert], [one.key, one.key]));
  const child = spawn(process.execPath, [TEN, 'serve', '--config', file, '--data-dir', join(dir, 'data'), '--port', String(await freePort())], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /^error: tenement\.toml: settings\.tls\.cert_file\[1\]: .*two\.pem with its key_file is not a usable certificate and key/);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
});

test('over HTTP/2, bodies stream both ways intact and repeated response headers survive', async (t) => {
  const certs = tempDir(t);
  const wildcard = selfSigned(certs, 'wildcard', 'DNS:*.notes.example.test');
  const httpsPort = await freePort();
  const d = await startDaemon(t, { config: config(httpsPort, [wildcard.cert], [wildcard.key]), domain: 'example.test' });
  await waitFor(async () => (await d.ten(['ps', '--json'])).stdout.includes('"running"'), 15_000, 'alice running');
  const session = h2Connect(`https://127.0.0.1:${httpsPort}`, { servername: 'alice.notes.example.test', ca: readFileSync(wildcard.cert, 'utf8') });
  t.after(() => session.close());
  const exchange = async (path: string, method = 'GET', body?: Buffer): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> => {
    const stream = session.request({ ':path': path, ':method': method, ':authority': 'alice.notes.example.test' });
    stream.end(body);
    const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { headers, body: Buffer.concat(chunks) };
  };

  const upload = randomBytes(8 * 1024 * 1024);
  const stored = await exchange('/upload', 'POST', upload);
  assert.equal(stored.headers[':status'], 200);
  assert.deepEqual(JSON.parse(stored.body.toString()), { bytes: upload.length, sha256: createHash('sha256').update(upload).digest('hex') });

  const download = await exchange('/download?mb=8');
  assert.equal(download.headers['content-length'], String(8 * 1024 * 1024));
  assert.equal(download.body.length, 8 * 1024 * 1024);
  assert.ok(download.body.every((byte, i) => byte === (i % (64 * 1024)) % 251), 'every byte as the app sent it');

  // A server-sent event stream is relayed as it comes, not when it ends.
  const events = session.request({ ':path': '/sse', ':authority': 'alice.notes.example.test' });
  events.end();
  const [first] = (await once(events, 'data')) as [Buffer];
  assert.match(first.toString(), /^data: first from notes:alice/);
  assert.equal(events.readableEnded, false);
  events.close();

  const cookies = await exchange('/cookies');
  assert.deepEqual(cookies.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
  assert.equal(cookies.headers['strict-transport-security'], 'max-age=31536000');
});
