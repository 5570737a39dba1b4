/**
 * `ten serve` as a complete front door when `[settings.tls] enabled = true` (README: Production):
 * the HTTPS listener (TLS 1.2/1.3, certificates by SNI, ALPN h2 or http/1.1) hands HTTP/1.1
 * connections to the same front server as plain HTTP and h2 connections to the bridge in front of
 * it; the plain-HTTP listener answers ACME challenges and redirects. Certificates come from the
 * user's files or, on demand, from ACME for names that route, and nowhere else.
 * @module
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { SecureContext, Server as TlsServer, TLSSocket } from 'node:tls';
import type { TlsSettings } from '../config/types.js';
import { AcmeIssuer } from './acme-issuer.js';
import { CertStore } from './cert-store.js';
import { createH2Bridge } from './h2-bridge.js';
import type { H2Bridge } from './h2-bridge.js';
import { createHttpPortServer } from './http-port.js';
import { OnDemandCertificates } from './on-demand.js';
import type { TlsLogger } from './on-demand.js';
import { OwnCertificates } from './own-certificates.js';
import type { NameRoutes } from './routed-names.js';

/** `Strict-Transport-Security` on every HTTPS answer: browsers then never try plain HTTP. */
export const HSTS_HEADERS: readonly string[] = ['strict-transport-security', 'max-age=31536000'];

export interface TlsFrontOptions {
  readonly settings: TlsSettings;
  readonly dataDir: string;
  /** The config file's name, for errors about `cert_file`/`key_file`. */
  readonly configName: string;
  /** The HTTP/1.1 front server; it is not listened on, TLS connections are emitted to it. */
  readonly front: Server;
  readonly management: (req: IncomingMessage, res: ServerResponse) => void;
  /** Does this name route? Only such names get on-demand certificates. */
  readonly routes: NameRoutes;
  readonly logger: TlsLogger;
  /**
   * Called at the ClientHello with the SNI name of a name that routes, before any certificate is
   * looked up: the moment a wake-on-SNI can start an idle instance while the handshake runs.
   * Must not throw or block; the default does nothing.
   */
  readonly onServerName?: (name: string) => void;
  readonly onOrder?: (name: string, result: 'issued' | 'failed') => void;
}

export interface TlsFront {
  readonly https: TlsServer;
  /** The plain-HTTP listener (redirects and ACME challenges). */
  readonly http: HttpServer;
  readonly h2: H2Bridge;
  /** ACME certificates, or undefined with the user's own. */
  readonly onDemand: OnDemandCertificates | undefined;
  readonly own: OwnCertificates;
  close(): void;
  /** Stops accepting on both ports; connections in progress end on their own (the server drains). */
  stopAccepting(): void;
}

/** Longest a handshake is held while its certificate is issued. */
const ISSUANCE_HOLD_MS = 30_000;

export function createTlsFront(options: TlsFrontOptions): TlsFront {
  const { settings, logger, routes } = options;
  const onServerName = options.onServerName ?? (() => undefined);
  const own = new OwnCertificates(settings.certificates, options.configName);
  let onDemand: OnDemandCertificates | undefined;
  let challengeAnswer: (token: string) => string | undefined = () => undefined;
  if (own.isEmpty) {
    const store = new CertStore(options.dataDir);
    const issuer = new AcmeIssuer({ directoryUrl: settings.acmeDirectory, email: settings.acmeEmail, store });
    challengeAnswer = (token) => issuer.challengeAnswer(token);
    onDemand = new OnDemandCertificates({
      store, issuer, logger, onOrder: options.onOrder,
      ordersPerHour: settings.ordersPerHour, renewalWindowRatio: settings.renewalWindowRatio,
    });
    onDemand.start();
  }

  function selectCertificate(servername: string, done: (err: Error | null, ctx?: SecureContext) => void): void {
    const name = servername.toLowerCase();
    const isRouted = routes(name);
    if (isRouted) onServerName(name);
    if (onDemand === undefined) {
      const ctx = own.select(name);
      if (ctx !== undefined) done(null, ctx);
      else done(new Error('no certificate for this name'));
      return;
    }
    const cached = onDemand.cached(name);
    if (cached !== undefined) return done(null, cached);
    // Never contact the CA for a name that does not route.
    if (!isRouted) return done(new Error('no certificate for this name'));
    let isDone = false;
    const timer = setTimeout(() => {
      isDone = true;
      done(new Error('certificate not issued in time'));
    }, ISSUANCE_HOLD_MS);
    onDemand.obtain(name).then(
      (ctx) => {
        if (isDone) return;
        clearTimeout(timer);
        done(null, ctx);
      },
      (err: unknown) => {
        if (isDone) return;
        clearTimeout(timer);
        done(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  const h2 = createH2Bridge(options.front);
  const defaultContext = own.defaultContext;
  const https = createTlsServer({
    minVersion: 'TLSv1.2',
    // As on the plain front: answers go out at once, not held back by Nagle's algorithm.
    noDelay: true,
    ALPNProtocols: ['h2', 'http/1.1'],
    SNICallback: selectCertificate,
    // A handshake may wait for issuance; past that, a client that stalls it is dropped.
    handshakeTimeout: ISSUANCE_HOLD_MS + 10_000,
    ...(defaultContext === undefined ? {} : { secureContext: defaultContext }),
  });
  https.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2.server.emit('connection', socket);
    else options.front.emit('connection', socket);
  });
  // A client that fails the handshake (unknown name, old TLS) is simply closed.
  https.on('tlsClientError', () => undefined);

  const http = createHttpPortServer({ httpsPort: settings.httpsPort, challengeAnswer, management: options.management });

  return {
    https, http, h2, onDemand, own,
    stopAccepting(): void {
      https.close();
      // Idle connections close now, the others after their answer; HTTP/2 sessions get GOAWAY.
      http.close();
      h2.close();
    },
    close(): void {
      onDemand?.close();
      this.stopAccepting();
      http.closeAllConnections();
    },
  };
}
