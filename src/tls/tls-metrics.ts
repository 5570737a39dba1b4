/**
 * Certificate metrics on the server's Prometheus registry: when each certificate expires, and
 * ACME orders by result, so an alert can fire on a renewal that keeps failing.
 * @module
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { TlsFront } from './tls-front.js';

export interface TlsMetrics {
  /** Pass as TlsFrontOptions.onOrder. */
  readonly onOrder: (name: string, result: 'issued' | 'failed') => void;
  /** Once the front exists: its certificates feed the expiry gauge at scrape time. */
  attach(front: TlsFront): void;
}

export function registerTlsMetrics(registry: Registry): TlsMetrics {
  const orders = new Counter({
    name: 'tenement_tls_certificate_orders_total',
    help: 'ACME certificate orders (new and renewals) by result: issued or failed.',
    labelNames: ['result'], registers: [registry],
  });
  orders.inc({ result: 'issued' }, 0);
  orders.inc({ result: 'failed' }, 0);
  let front: TlsFront | undefined;
  new Gauge({
    name: 'tenement_tls_certificate_expiry_timestamp_seconds',
    help: 'When each certificate served over HTTPS expires (Unix time), by name and source (acme or file).',
    labelNames: ['name', 'source'], registers: [registry],
    collect() {
      this.reset();
      for (const c of front?.onDemand?.certificates() ?? []) this.set({ name: c.name, source: 'acme' }, c.notAfter / 1000);
      for (const c of front?.own.expiries() ?? []) this.set({ name: c.name, source: 'file' }, c.notAfter / 1000);
    },
  });
  return {
    onOrder: (_name, result) => orders.inc({ result }),
    attach(f) {
      front = f;
    },
  };
}
