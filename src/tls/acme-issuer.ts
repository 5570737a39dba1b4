/**
 * One ACME order for one name with acme-client, answered by HTTP-01: the key authorization is
 * kept in memory while the order runs, and the plain-HTTP listener serves it at
 * `/.well-known/acme-challenge/{token}`. The account key lives in the certificate store.
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import * as acme from 'acme-client';
import type { CertStore } from './cert-store.js';

export interface IssuedPem {
  readonly keyPem: string;
  readonly certPem: string;
}

export interface AcmeIssuerOptions {
  readonly directoryUrl: string;
  readonly email: string | undefined;
  readonly store: CertStore;
}

// acme-client retries a CA that cannot be reached 5 times, 5 s × attempt apart (75 s in all);
// a handshake waits on the first order, so give up sooner, and never wait on a silent CA forever.
const acmeHttp = acme.axios.defaults as typeof acme.axios.defaults & { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } };
acmeHttp.acmeSettings.retryMaxAttempts = 2;
acmeHttp.acmeSettings.retryDefaultDelay = 1;
acmeHttp.timeout = 10_000;

/** Issues certificates; `challengeAnswer` serves the HTTP-01 tokens of orders in progress. */
export class AcmeIssuer {
  private readonly client: acme.Client;
  private readonly email: string | undefined;
  private readonly tokens = new Map<string, string>();
  private readonly store: CertStore;
  private readonly directoryUrl: string;
  /** Registration runs once; concurrent first orders share it. */
  private account: Promise<void> | undefined;

  constructor(options: AcmeIssuerOptions) {
    const accountKey = options.store.accountKey(() =>
      generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey);
    this.email = options.email;
    this.store = options.store;
    this.directoryUrl = options.directoryUrl;
    const accountUrl = options.store.accountUrl(options.directoryUrl);
    // A known account URL skips registration: the CA is asked only for orders after a restart.
    if (accountUrl !== undefined) this.account = Promise.resolve();
    this.client = new acme.Client({
      directoryUrl: options.directoryUrl,
      accountKey,
      ...(accountUrl === undefined ? {} : { accountUrl }),
      // Polls an order's status from 0.25 s up to 5 s apart: issuance holds a TLS handshake.
      backoffAttempts: 10,
      backoffMin: 250,
      backoffMax: 5000,
    });
  }

  /** The key authorization for an HTTP-01 token of an order in progress, or undefined. */
  challengeAnswer(token: string): string | undefined {
    return this.tokens.get(token);
  }

  private register(): Promise<void> {
    this.account ??= this.client.createAccount({
      termsOfServiceAgreed: true,
      ...(this.email === undefined ? {} : { contact: [`mailto:${this.email}`] }),
    }).then(
      () => this.store.saveAccountUrl(this.directoryUrl, this.client.getAccountUrl()),
      (err: unknown) => {
        this.account = undefined;
        throw err;
      },
    );
    return this.account;
  }

  async issue(name: string): Promise<IssuedPem> {
    try {
      return await this.order(name);
    } catch (err) {
      // acme-client 5.4 turns a CA it cannot reach (after its retries) into this TypeError.
      if (err instanceof TypeError && err.message.includes("reading 'config'")) {
        throw new Error(`cannot reach the ACME server at ${this.directoryUrl} (no answer after retries)`, { cause: err });
      }
      throw err;
    }
  }

  private async order(name: string): Promise<IssuedPem> {
    await this.register();
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ altNames: [name] }, key);
    const certPem = await this.client.auto({
      csr,
      challengePriority: ['http-01'],
      // The CA checks the challenge itself; a self-check would need this host's own DNS name.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.tokens.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.tokens.delete(challenge.token);
      },
    });
    return { keyPem: key.toString(), certPem };
  }
}
