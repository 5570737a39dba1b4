/**
 * Certificates on disk: `{data_dir}/tls/` holds the ACME account key and one PEM file per name
 * (private key then certificate chain), each written 0600 through a temporary file and a rename,
 * so a crash never leaves half a certificate. Read once at start; reused after restarts.
 * @module
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

/** A certificate and its key, as PEM, with the validity of the leaf. */
export interface StoredCertificate {
  readonly name: string;
  readonly keyPem: string;
  /** Leaf first, then the chain. */
  readonly certPem: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

const ACCOUNT_KEY = 'account.key';
const ACCOUNT_URL = 'account.json';
const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g;

export class CertStore {
  private readonly dir: string;
  private readonly certDir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'tls');
    this.certDir = join(this.dir, 'certificates');
    mkdirSync(this.certDir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    chmodSync(this.certDir, 0o700);
  }

  /** The ACME account key, created by `create` on first use. */
  accountKey(create: () => string): string {
    const file = join(this.dir, ACCOUNT_KEY);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = create();
    writePrivate(file, key);
    return key;
  }

  /** The account URL the CA gave for the account key, if registered with `directory` before. */
  accountUrl(directory: string): string | undefined {
    try {
      const saved = JSON.parse(readFileSync(join(this.dir, ACCOUNT_URL), 'utf8')) as { directory?: unknown; url?: unknown };
      return saved.directory === directory && typeof saved.url === 'string' ? saved.url : undefined;
    } catch {
      return undefined;
    }
  }

  saveAccountUrl(directory: string, url: string): void {
    writePrivate(join(this.dir, ACCOUNT_URL), `${JSON.stringify({ directory, url })}\n`);
  }

  /** Every stored certificate that parses; a damaged file is skipped (a new one is ordered). */
  loadAll(onDamaged: (file: string, err: unknown) => void): StoredCertificate[] {
    const out: StoredCertificate[] = [];
    for (const file of readdirSync(this.certDir)) {
      if (!file.endsWith('.pem')) continue;
      try {
        out.push(parseStored(file.slice(0, -4), readFileSync(join(this.certDir, file), 'utf8')));
      } catch (err) {
        onDamaged(file, err);
      }
    }
    return out;
  }

  save(name: string, keyPem: string, certPem: string): StoredCertificate {
    const stored = parseStored(name, `${keyPem.trim()}\n${certPem.trim()}\n`);
    writePrivate(join(this.certDir, `${name}.pem`), `${stored.keyPem}${stored.certPem}`);
    return stored;
  }
}

/** Splits a stored file into key and chain, and reads the leaf's validity. */
function parseStored(name: string, pem: string): StoredCertificate {
  let keyPem = '';
  let certPem = '';
  for (const block of pem.matchAll(PEM_BLOCK)) {
    const text = block[0].endsWith('\n') ? block[0] : `${block[0]}\n`;
    if (block[1] === 'CERTIFICATE') certPem += text;
    else if (block[1]!.endsWith('PRIVATE KEY')) keyPem = text;
  }
  if (keyPem === '' || certPem === '') throw new Error('expected a private key and a certificate');
  const leaf = new X509Certificate(certPem);
  return { name, keyPem, certPem, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo) };
}

function writePrivate(file: string, content: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  renameSync(temp, file);
}
