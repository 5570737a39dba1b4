/**
 * Header rewriting between client and instance (docs/lifecycle.md#proxying): hop-by-hop headers dropped per RFC 9110
 * §7.6.1 (Connection and the names it lists, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-*), X-Forwarded-For appended, X-Forwarded-Host and -Proto set. Works on flat raw arrays.
 * @module
 */

/** Hop-by-hop by name alone (lower-case); names listed in Connection are handled separately. */
export function isHopByHop(lower: string): boolean {
  switch (lower.length) {
    case 2: return lower === 'te';
    case 7: return lower === 'trailer' || lower === 'upgrade';
    case 10: return lower === 'connection' || lower === 'keep-alive';
    case 17: return lower === 'transfer-encoding';
    default: return lower.length > 6 && lower.startsWith('proxy-');
  }
}

/** Names listed in a Connection header value, beyond the usual keep-alive/close/upgrade. */
function connectionListed(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  // The common values list nothing: skip the split.
  if (value.length <= 10) {
    const v = value.toLowerCase();
    if (v === 'keep-alive' || v === 'close' || v === 'upgrade') return null;
  }
  let set: Set<string> | null = null;
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'keep-alive' || name === 'close' || name === 'upgrade') continue;
    (set ??= new Set()).add(name);
  }
  return set;
}

/** What the proxy learns about the request while rewriting its headers. */
export interface RequestFacts {
  /** The request carries a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** Content-Length, or -1 when the body is sent chunked (Transfer-Encoding). */
  bodyLength: number;
}

/** The raw Host header as sent, or undefined. */
export function findHost(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') return raw[i + 1];
  }
  return undefined;
}

export interface ForwardedFor {
  /** The peer's address. */
  readonly clientAddress: string;
  /** The client's Host header as sent. */
  readonly host: string | undefined;
  readonly proto: 'http' | 'https';
  /** Keep an incoming X-Forwarded-Proto (the peer is a local TLS terminator). */
  readonly trustForwardedProto: boolean;
  /** Keep Connection/Upgrade: the request is a protocol upgrade being tunnelled. */
  readonly isUpgrade: boolean;
}

/**
 * The request headers to send upstream, as a flat [name, value, ...] array. Records in `facts`
 * whether the request has a body. Expect is dropped: the proxy answers 100-continue itself.
 */
export function upstreamRequestHeaders(raw: readonly string[], fwd: ForwardedFor, facts: RequestFacts): string[] {
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let connection: string | undefined;
  let upgrade: string | undefined;
  facts.hasBody = false;
  facts.bodyLength = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (isHopByHop(lower)) {
      if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      else if (lower === 'upgrade') upgrade = value;
      else if (lower === 'transfer-encoding') {
        facts.hasBody = true;
        facts.bodyLength = -1;
      }
      continue;
    }
    switch (lower) {
      case 'content-length':
        // Node's parser already refused a request with both framings or a malformed length.
        if (value !== '0') {
          facts.hasBody = true;
          facts.bodyLength = Number(value);
        }
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        forwardedProto = value;
        continue;
      case 'x-forwarded-host':
      case 'expect':
        continue;
    }
    out.push(name, value);
  }
  const listed = connectionListed(connection);
  if (listed !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (listed.has(out[i]!.toLowerCase())) out.splice(i, 2);
    }
  }
  if (fwd.isUpgrade && upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', upgrade);
  out.push('x-forwarded-for', forwardedFor === undefined ? fwd.clientAddress : `${forwardedFor}, ${fwd.clientAddress}`);
  if (fwd.host !== undefined) out.push('x-forwarded-host', fwd.host);
  out.push('x-forwarded-proto', fwd.trustForwardedProto && forwardedProto !== undefined ? forwardedProto : fwd.proto);
  return out;
}
