/**
 * Certificates issued on demand by ACME (README: Production): cached as TLS contexts, loaded from
 * the data dir at start, ordered at the first handshake for a name (one order per name at a time),
 * at most `ordersPerHour` new orders in any hour, a failed name backed off, and renewed in the
 * background once less than `renewalWindowRatio` of the lifetime is left. A failed renewal keeps
 * serving the old certificate, logs why, and is retried later.
 * @module
 */
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { CertStore, StoredCertificate } from './cert-store.js';

export interface CertificateIssuer {
  issue(name: string): Promise<{ readonly keyPem: string; readonly certPem: string }>;
}

export interface TlsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface OnDemandOptions {
  readonly store: CertStore;
  readonly issuer: CertificateIssuer;
  readonly ordersPerHour: number;
  readonly renewalWindowRatio: number;
  readonly logger: TlsLogger;
  /** Called after every order: `issued`, or `failed` with why. */
  readonly onOrder?: (name: string, result: 'issued' | 'failed') => void;
}

interface Entry {
  readonly cert: StoredCertificate;
  readonly context: SecureContext;
}

interface Failure {
  count: number;
  retryAt: number;
}

const HOUR_MS = 3_600_000;
/** First retry a minute after a failure, doubling up to an hour. */
const FAILURE_BACKOFF_MS = 60_000;
/** Renewal checks run at least this often, even when nothing is due sooner. */
const MAX_RENEWAL_SLEEP_MS = 6 * HOUR_MS;
const MIN_RENEWAL_SLEEP_MS = 1_000;

class OrderRefused extends Error {}

export class OnDemandCertificates {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private readonly failures = new Map<string, Failure>();
  private orderTimes: number[] = [];
  private renewalTimer: NodeJS.Timeout | undefined;
  private isClosed = false;

  constructor(private readonly options: OnDemandOptions) {}

  /** Loads the stored certificates and starts the renewal schedule. */
  start(): void {
    for (const cert of this.options.store.loadAll((file, err) => this.options.logger.warn({ file, err: String(err) }, 'skipping a damaged stored certificate'))) {
      this.entries.set(cert.name, { cert, context: contextOf(cert) });
    }
    this.scheduleRenewal();
  }

  close(): void {
    this.isClosed = true;
    clearTimeout(this.renewalTimer);
  }

  /** The cached context for `name`, if it has a certificate that has not expired. */
  cached(name: string): SecureContext | undefined {
    const entry = this.entries.get(name);
    return entry !== undefined && entry.cert.notAfter > Date.now() ? entry.context : undefined;
  }

  /** Certificates held now (for metrics). */
  certificates(): StoredCertificate[] {
    return [...this.entries.values()].map((e) => e.cert);
  }

  /**
   * The context for `name`, ordering a certificate if there is none or it has expired. The caller has already
   * checked that the name routes. Rejects with OrderRefused when the hourly cap or a backoff
   * stops a new order.
   */
  obtain(name: string): Promise<SecureContext> {
    const context = this.cached(name);
    if (context !== undefined) return Promise.resolve(context);
    // None, or expired (the server was down past its renewal): order now, holding the handshake.
    return this.order(name).then((e) => e.context);
  }

  /** One order per name at a time: later callers share the one in progress. */
  private order(name: string): Promise<Entry> {
    const running = this.inFlight.get(name);
    if (running !== undefined) return running;
    const now = Date.now();
    const failure = this.failures.get(name);
    if (failure !== undefined && now < failure.retryAt) {
      return Promise.reject(new OrderRefused(`ordering for ${name} failed recently; next try in ${Math.ceil((failure.retryAt - now) / 1000)} s`));
    }
    if (this.capFreeAt(now) > now) {
      return Promise.reject(new OrderRefused(`${this.options.ordersPerHour} orders in the last hour (orders_per_hour): not ordering for ${name} now`));
    }
    this.orderTimes.push(now);
    const promise = this.issue(name).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, promise);
    return promise;
  }

  /** When the next order fits under the hourly cap (`now` if it does already). */
  private capFreeAt(now: number): number {
    this.orderTimes = this.orderTimes.filter((t) => now - t < HOUR_MS);
    if (this.orderTimes.length < this.options.ordersPerHour) return now;
    return this.orderTimes[this.orderTimes.length - this.options.ordersPerHour]! + HOUR_MS;
  }

  private async issue(name: string): Promise<Entry> {
    const { issuer, store, logger, onOrder } = this.options;
    try {
      const pem = await issuer.issue(name);
      const cert = store.save(name, pem.keyPem, pem.certPem);
      const entry = { cert, context: contextOf(cert) };
      this.entries.set(name, entry);
      this.failures.delete(name);
      logger.info({ host: name, notAfter: new Date(cert.notAfter).toISOString() }, 'certificate issued');
      onOrder?.(name, 'issued');
      this.scheduleRenewal();
      return entry;
    } catch (err) {
      const previous = this.failures.get(name)?.count ?? 0;
      const backoff = Math.min(HOUR_MS, FAILURE_BACKOFF_MS * 2 ** previous);
      this.failures.set(name, { count: previous + 1, retryAt: Date.now() + backoff });
      logger.warn({ host: name, reason: describe(err), retryInS: backoff / 1000 }, 'certificate order failed');
      onOrder?.(name, 'failed');
      throw err;
    }
  }

  /** When `cert` enters its renewal window. */
  private renewalDue(cert: StoredCertificate): number {
    return cert.notAfter - (cert.notAfter - cert.notBefore) * this.options.renewalWindowRatio;
  }

  private scheduleRenewal(): void {
    if (this.isClosed) return;
    clearTimeout(this.renewalTimer);
    let next = Date.now() + MAX_RENEWAL_SLEEP_MS;
    for (const { cert } of this.entries.values()) {
      const failure = this.failures.get(cert.name);
      next = Math.min(next, Math.max(this.renewalDue(cert), failure?.retryAt ?? 0));
    }
    // A renewal refused by the hourly cap waits for room rather than retrying every second.
    next = Math.max(next, this.capFreeAt(Date.now()));
    const delay = Math.min(MAX_RENEWAL_SLEEP_MS, Math.max(MIN_RENEWAL_SLEEP_MS, next - Date.now()));
    this.renewalTimer = setTimeout(() => this.renewDue(), delay);
    this.renewalTimer.unref();
  }

  private renewDue(): void {
    const now = Date.now();
    for (const { cert } of this.entries.values()) {
      if (now < this.renewalDue(cert) || this.inFlight.has(cert.name)) continue;
      const failure = this.failures.get(cert.name);
      if (failure !== undefined && now < failure.retryAt) continue;
      this.order(cert.name).then(
        () => this.options.logger.info({ host: cert.name }, 'certificate renewed'),
        (err: unknown) => this.options.logger.warn(
          { host: cert.name, reason: describe(err), expires: new Date(cert.notAfter).toISOString() },
          'certificate renewal failed: serving the current certificate until it succeeds',
        ),
      );
    }
    this.scheduleRenewal();
  }
}

function contextOf(cert: StoredCertificate): SecureContext {
  return createSecureContext({ key: cert.keyPem, cert: cert.certPem });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
