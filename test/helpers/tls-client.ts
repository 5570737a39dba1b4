/**
 * HTTPS clients for the TLS tests: one request over a fresh TLS connection with a chosen SNI name
 * and trust root, returning the answer and the certificate the server chose; and the same over h2.
 * @module
 */
import { connect as h2Connect } from 'node:http2';
import { request } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  cert: PeerCertificate;
  protocol: string | null;
  alpn: string | false | null;
}

export interface TlsRequestOptions {
  readonly servername: string;
  /** Trusted root (PEM); without it the certificate is not verified. */
  readonly ca?: string;
  readonly path?: string;
  readonly method?: string;
  readonly body?: string;
  readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers?: string;
}

export function httpsGet(port: number, o: TlsRequestOptions): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: o.path ?? '/', method: o.method ?? 'GET', servername: o.servername, agent: false,
      headers: { host: `${o.servername}:${port}` },
      ...(o.ca === undefined ? { rejectUnauthorized: false } : { ca: o.ca }),
      ...(o.minVersion === undefined ? {} : { minVersion: o.minVersion }),
      ...(o.maxVersion === undefined ? {} : { maxVersion: o.maxVersion }),
      ...(o.ciphers === undefined ? {} : { ciphers: o.ciphers }),
      timeout: 40_000,
    }, (res) => {
      const socket = res.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const protocol = socket.getProtocol();
      const alpn = socket.alpnProtocol;
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cert, protocol, alpn }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('HTTPS request timed out')));
    req.on('error', reject);
    req.end(o.body);
  });
}

export function h2Get(port: number, o: TlsRequestOptions): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const session = h2Connect(`https://127.0.0.1:${port}`, { servername: o.servername, ...(o.ca === undefined ? { rejectUnauthorized: false } : { ca: o.ca }) });
    session.on('error', reject);
    const stream = session.request({ ':path': o.path ?? '/', ':method': o.method ?? 'GET', ':authority': `${o.servername}:${port}` });
    stream.on('error', reject);
    stream.on('response', (headers) => {
      let body = '';
      stream.on('data', (c: Buffer) => { body += c.toString(); });
      stream.on('end', () => {
        const socket = session.socket as TLSSocket;
        const answer: TlsAnswer = {
          status: Number(headers[':status']), headers: headers as TlsAnswer['headers'], body,
          cert: socket.getPeerCertificate(), protocol: socket.getProtocol(), alpn: session.alpnProtocol ?? null,
        };
        session.close();
        resolve(answer);
      });
    });
    stream.end(o.body);
  });
}
