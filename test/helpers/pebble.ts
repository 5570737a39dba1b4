/**
 * Pebble, Let's Encrypt's test CA, on loopback for the HTTPS tests: pebble-challtestsrv as its DNS
 * server (every name → 127.0.0.1), so its validation requests reach tenement's HTTP port; a
 * throwaway certificate (openssl) for Pebble's own HTTPS, trusted by `ten serve` through
 * NODE_EXTRA_CA_CERTS. Orders are counted from Pebble's log.
 * @module
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { get } from 'node:https';
import { join } from 'node:path';
import { tempDir, waitFor } from './daemon.js';
import { freePort } from './net.js';

export interface Pebble {
  readonly directory: string;
  /** PEM file to trust for Pebble's own HTTPS (NODE_EXTRA_CA_CERTS). */
  readonly caFile: string;
  /** Makes Pebble's DNS answer `host` with an address where nothing listens (its validation fails). */
  breakDns(host: string): Promise<void>;
  /** Orders Pebble has received so far. */
  orders(): number;
  /** The root that signs issued certificates (regenerated at each Pebble start). */
  root(): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** The port Pebble's VA connects to for HTTP-01 (tenement's --port). */
  readonly httpPort: number;
  /** Certificate lifetime in seconds (Pebble's default is years). */
  readonly validitySeconds?: number;
}

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, onOutput: (text: string) => void): ChildProcess {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => onOutput(c.toString()));
  child.stderr!.on('data', (c: Buffer) => onOutput(c.toString()));
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  await exited;
}

/** Registers what to undo when the caller is done (a test's `t.after`, a bench's finally list). */
export type Cleanup = (undo: () => Promise<void> | void) => void;

export async function startPebble(cleanup: Cleanup, options: PebbleOptions): Promise<Pebble> {
  const dir = tempDir(undefined, 'tenement-pebble-');
  const caFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', caFile,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  const [acmePort, managementPort, dnsPort, dnsManagementPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const configFile = join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: caFile, privateKey: keyFile, httpPort: options.httpPort, tlsPort: await freePort(),
      ocspResponderURL: '', externalAccountBindingRequired: false,
      ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
    },
  }));
  let dnsLog = '';
  const dns = startProcess('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-management', `127.0.0.1:${dnsManagementPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], process.env, (s) => { dnsLog += s; });
  let log = '';
  const pebble = startProcess('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`],
    { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }, (s) => { log += s; });
  const stop = async (): Promise<void> => {
    await stopProcess(pebble);
    await stopProcess(dns);
  };
  cleanup(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => log.includes('ACME directory available') && dnsLog.includes('Starting challenge servers'), 10_000, () => `pebble to start:\n${log}\n${dnsLog}`);

  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile,
    orders: () => log.split('\n').filter((line) => line.includes('POST /order-plz')).length,
    root: () => new Promise((resolve, reject) => {
      get(`https://127.0.0.1:${managementPort}/roots/0`, { ca: readFileSync(caFile, 'utf8') }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    }),
    log: () => log,
    stop,
    breakDns: (host) => new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: dnsManagementPort, path: '/add-a', method: 'POST' }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`add-a: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ host: `${host}.`, addresses: ['127.0.0.2'] }));
    }),
  };
}
