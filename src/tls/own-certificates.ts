/**
 * Certificates the user brings (`cert_file` + `key_file`, one or more pairs): each pair becomes a
 * TLS context, and a server name picks the pair whose certificate names it (exact names before
 * wildcards, a wildcard covering one label, as browsers match). Read once at start; a pair that
 * does not load stops `ten serve` with the key that named it.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { CertificateFiles } from '../config/types.js';
import { TenementError } from '../core/errors.js';

interface OwnCertificate {
  readonly exact: ReadonlySet<string>;
  /** Suffixes of `*.` names, with their leading dot: `.example.com`. */
  readonly wildcards: readonly string[];
  readonly context: SecureContext;
  readonly notAfter: number;
  readonly names: readonly string[];
}

export class OwnCertificates {
  private readonly certs: OwnCertificate[];

  constructor(files: readonly CertificateFiles[], configFile: string) {
    this.certs = files.map((pair) => load(pair, configFile));
  }

  get isEmpty(): boolean {
    return this.certs.length === 0;
  }

  /** The first pair: served to clients that send no server name. */
  get defaultContext(): SecureContext | undefined {
    return this.certs[0]?.context;
  }

  /** The context whose certificate covers `name` (lower-case), or undefined. */
  select(name: string): SecureContext | undefined {
    for (const cert of this.certs) if (cert.exact.has(name)) return cert.context;
    const dot = name.indexOf('.');
    if (dot <= 0) return undefined;
    const parent = name.slice(dot);
    for (const cert of this.certs) if (cert.wildcards.includes(parent)) return cert.context;
    return undefined;
  }

  /** Name and expiry of every certificate (for metrics). */
  expiries(): { name: string; notAfter: number }[] {
    return this.certs.map((c) => ({ name: c.names[0] ?? '', notAfter: c.notAfter }));
  }
}

function load(pair: CertificateFiles, configFile: string): OwnCertificate {
  const fail = (what: string, err: unknown): TenementError => new TenementError(
    'invalid_config',
    `${configFile}: ${pair.key}: ${what}: ${err instanceof Error ? err.message : String(err)}`,
    { details: { key: pair.key } },
  );
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(pair.certFile);
    key = readFileSync(pair.keyFile);
  } catch (err) {
    throw fail('cannot read the certificate or key file', err);
  }
  let context: SecureContext;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
    context = createSecureContext({ cert, key });
  } catch (err) {
    throw fail(`${pair.certFile} with its key_file is not a usable certificate and key`, err);
  }
  const names = (leaf.subjectAltName ?? '').split(',').map((s) => s.trim()).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  if (names.length === 0) throw fail(`${pair.certFile} names no DNS name (subjectAltName)`, 'nothing to match a server name against');
  return {
    exact: new Set(names.filter((n) => !n.startsWith('*.'))),
    wildcards: names.filter((n) => n.startsWith('*.')).map((n) => n.slice(1)),
    context,
    notAfter: Date.parse(leaf.validTo),
    names,
  };
}
