/**
 * Header rules shared by both directions (docs/lifecycle.md#proxying): which headers are hop-by-hop
 * (RFC 9110 §7.6.1), the one reader of `Connection` values, and the request headers sent to an
 * instance: hop-by-hop and Connection-listed ones dropped (never the framing or Host),
 * X-Forwarded-For/-Host/-Proto set, client-sent X-Forwarded-* kept only from a trusted proxy.
 * Works on flat [name, value, ...] arrays.
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

/** What the Connection header(s) of a message say, all values together. */
export interface ConnectionTokens {
  close: boolean;
  keepAlive: boolean;
  upgrade: boolean;
  /** Other names listed (lower-case): headers for this hop only, or null for none. */
  listed: Set<string> | null;
}

export function noConnectionTokens(): ConnectionTokens {
  return { close: false, keepAlive: false, upgrade: false, listed: null };
}

/** Adds one Connection header value to `into`. `close` and `keep-alive` are both recorded: close wins. */
export function readConnection(value: string, into: ConnectionTokens): void {
  // The usual single values: no split.
  if (value.length <= 10) {
    const v = value.toLowerCase();
    if (v === 'keep-alive') return void (into.keepAlive = true);
    if (v === 'close') return void (into.close = true);
    if (v === 'upgrade') return void (into.upgrade = true);
  }
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '') continue;
    if (name === 'close') into.close = true;
    else if (name === 'keep-alive') into.keepAlive = true;
    else if (name === 'upgrade') into.upgrade = true;
    else (into.listed ??= new Set()).add(name);
  }
}

/** Framing and Host are never removed because Connection lists them: the body must stay the body. */
export function isRemovableByConnection(lower: string, listed: Set<string> | null): boolean {
  if (listed === null || !listed.has(lower)) return false;
  return lower !== 'content-length' && lower !== 'transfer-encoding' && lower !== 'host';
}

export interface ForwardedFor {
  /** The peer's address. */
  readonly clientAddress: string;
  /** The client's Host header as sent. */
  readonly host: string | undefined;
  /** The scheme tenement itself received the request on. */
  readonly proto: 'http' | 'https';
  /** The peer is in `trusted_proxies`: its X-Forwarded-For and -Proto are believed. */
  readonly isTrustedProxy: boolean;
  /** Keep Upgrade (and send Connection: upgrade): the request asks for a protocol switch. */
  readonly upgrade: string | undefined;
}

/**
 * The request headers to send upstream, as a flat [name, value, ...] array. `listed` are the
 * names the request's Connection header listed. Expect is dropped: the proxy answers
 * 100-continue itself. Transfer-Encoding is dropped: the body is re-framed upstream.
 */
export function upstreamRequestHeaders(raw: readonly string[], listed: Set<string> | null, fwd: ForwardedFor): string[] {
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (isHopByHop(lower) || isRemovableByConnection(lower, listed)) continue;
    switch (lower) {
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
  if (fwd.upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', fwd.upgrade);
  const trusted = fwd.isTrustedProxy;
  out.push('x-forwarded-for', trusted && forwardedFor !== undefined ? `${forwardedFor}, ${fwd.clientAddress}` : fwd.clientAddress);
  if (fwd.host !== undefined) out.push('x-forwarded-host', fwd.host);
  out.push('x-forwarded-proto', trusted && forwardedProto !== undefined ? forwardedProto : fwd.proto);
  return out;
}
