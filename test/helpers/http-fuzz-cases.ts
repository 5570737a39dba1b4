/**
 * Seeded generators of HTTP/1.x request and response bytes for differential fuzzing: mostly
 * plausible messages built from parts that parsers are known to disagree on (framing headers,
 * whitespace, line ends, control bytes, chunk syntax), then 0-3 random byte mutations.
 * @module
 */

/** mulberry32: a small deterministic PRNG, so a failing seed replays exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class CaseGenerator {
  /** Half the cases are noisy (odd parts, byte mutations); the others are built from valid parts only. */
  private noisy = false;

  constructor(private readonly random: () => number) {}

  /** The valid choice: always in a clean case, with probability `p` in a noisy one. */
  private ok(p: number): boolean {
    return !this.noisy || this.random() < p;
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private eol(): string {
    return this.ok(0.95) ? '\r\n' : this.pick(['\n', '\r', '\r\r\n', '\n\r']);
  }

  private token(): string {
    const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&\'*+.^`|~';
    let s = '';
    for (let n = 1 + this.int(10); n > 0; n--) s += chars[this.int(chars.length)];
    return s;
  }

  private oddByte(): string {
    return String.fromCharCode(this.pick([0, 1, 9, 10, 11, 12, 13, 27, 32, 34, 40, 44, 47, 58, 59, 61, 92, 127, 128, 160, 255]));
  }

  private headerName(): string {
    if (this.ok(0.85)) return this.pick(['X-A', 'Accept', 'Cookie', 'User-Agent', 'X-Forwarded-For', 'Foo', this.token()]);
    return this.pick([`${this.token()} `, ` ${this.token()}`, `${this.token()}${this.oddByte()}${this.token()}`, '', 'X A', 'X\tA']);
  }

  private headerValue(): string {
    if (this.ok(0.8)) return this.pick(['1', 'text/html', 'a=1; b=2', '  padded  ', '"quoted, with comma"', '\tx', 'caf\xe9', this.token()]);
    return `${this.token()}${this.oddByte()}${this.token()}`;
  }

  private contentLength(n: number): string {
    if (this.ok(0.6)) return String(n);
    return this.pick([`0${n}`, `+${n}`, `${n} `, ` ${n}`, `${n}, ${n}`, `${n},${n}`, `-${n}`, `0x${n.toString(16)}`, '', `${n}a`, '99999999999999999999', `${n}\t`]);
  }

  private transferEncoding(): string {
    if (this.ok(0.6)) return 'chunked';
    return this.pick(['Chunked', 'CHUNKED', 'gzip, chunked', 'chunked, gzip', 'chunked, chunked', 'identity',
      ' chunked', 'chunked ', 'chunked\t', 'xchunked', 'chunked;q=1', '\x0bchunked', 'chunk', '']);
  }

  private connection(): string {
    return this.pick(['close', 'keep-alive', 'Keep-Alive', 'upgrade', 'Upgrade, close', 'close, keep-alive', 'content-length', 'transfer-encoding',
      'te, close', 'x-a', ',,close', 'keep-alive ,  upgrade']);
  }

  /** A chunked body, usually well-formed. */
  private chunkedBody(): string {
    let out = '';
    for (let n = this.int(3); n > 0; n--) {
      const data = 'd'.repeat(1 + this.int(20));
      let size = data.length.toString(16);
      if (!this.ok(0.8)) size = this.pick([size.toUpperCase(), `0${size}`, ` ${size}`, `${size} `, `0x${size}`, `${size};ext`, `${size};a=b`, `${size};a="q"`, `${size}; a`, `${size};`, `-${size}`, `${size}\t`]);
      out += `${size}${this.eol()}${data}${this.ok(0.95) ? '\r\n' : this.pick(['\n', '', 'XX'])}`;
    }
    out += this.ok(0.6) ? this.pick(['0\r\n\r\n', '0\r\nX-T: 1\r\n\r\n']) : this.pick([ '0\n\n', '0\r\n', '00\r\n\r\n', '0;x=y\r\n\r\n', '0\r\nbad trailer\r\n\r\n', '0\r\nX: a\x01b\r\n\r\n']);
    return out;
  }

  private headers(kind: 'request' | 'response'): { lines: string[]; body: string } {
    const lines: string[] = [];
    let body = '';
    const hosts = kind === 'request' ? (this.ok(0.8) ? 1 : this.pick([0, 2])) : 0;
    for (let i = 0; i < hosts; i++) lines.push(`Host: ${this.ok(0.85) ? this.pick(['a.api.localhost', 'localhost:8080']) : this.pick(['', 'a b', 'x\x01y'])}`);
    const framing = this.int(6);
    if (framing === 1 || framing === 3) {
      const n = this.int(12);
      body = 'b'.repeat(n);
      lines.push(`${this.ok(0.8) ? this.pick(['Content-Length', 'content-length']) : this.pick(['Content-Length ', 'Content_Length'])}: ${this.contentLength(n)}`);
      if (!this.ok(0.85)) lines.push(`Content-Length: ${this.contentLength(this.int(12))}`);
    }
    if (framing === 2 || (framing === 3 && this.noisy)) {
      lines.push(`${this.ok(0.8) ? this.pick(['Transfer-Encoding', 'transfer-encoding']) : 'Transfer-Encoding '}: ${this.transferEncoding()}`);
      if (!this.ok(0.9)) lines.push(`Transfer-Encoding: ${this.transferEncoding()}`);
      body = this.chunkedBody();
    }
    if (this.chance(0.3)) lines.push(`Connection: ${this.connection()}`);
    if (kind === 'request' && this.chance(0.1)) lines.push(`Upgrade: ${this.pick(['websocket', 'h2c', ''])}`);
    if (kind === 'request' && this.chance(0.1)) lines.push(`Expect: ${this.pick(['100-continue', '100-Continue', 'tea'])}`);
    for (let n = this.int(4); n > 0; n--) lines.push(`${this.headerName()}:${this.pick([' ', ' ', '', '\t', '  '])}${this.headerValue()}`);
    if (!this.ok(0.9)) lines.push(`${this.pick([' ', '\t'])}folded`);
    // Shuffle so framing headers appear anywhere.
    for (let i = lines.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    if (this.chance(0.3)) body += this.pick(['GET /next HTTP/1.1\r\nHost: x\r\n\r\n', 'extra', '0\r\n\r\n']);
    return { lines, body };
  }

  private assemble(startLine: string, lines: string[], body: string): Buffer {
    let text = `${startLine}${this.eol()}`;
    for (const line of lines) text += `${line}${this.eol()}`;
    text += `${this.eol()}${body}`;
    const bytes = Buffer.from(text, 'latin1');
    return this.mutate(bytes);
  }

  /** 0-3 random byte edits. */
  private mutate(input: Buffer): Buffer {
    let bytes = input;
    for (let n = this.ok(0.5) ? 0 : 1 + this.int(3); n > 0 && bytes.length > 0; n--) {
      const at = this.int(bytes.length);
      const b = Buffer.from(this.oddByte(), 'latin1');
      const op = this.int(3);
      if (op === 0) bytes = Buffer.concat([bytes.subarray(0, at), b, bytes.subarray(at)]);
      else if (op === 1) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      else bytes = Buffer.concat([bytes.subarray(0, at), b, bytes.subarray(at + 1)]);
    }
    return bytes;
  }

  request(): Buffer {
    this.noisy = this.chance(0.5);
    const method = this.ok(0.9) ? this.pick(['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH']) : this.pick(['get', 'G ET', 'CONNECT', 'PRI', this.token(), '', 'GET\t']);
    const target = this.ok(0.85) ? this.pick(['/', '/a?b=c', '/x/y.html', '/%20', '/?q=a%0d%0a']) : this.pick(['*', 'http://a.api.localhost/', '/a b', '/caf\xe9', '/\x7f', '/\x01', '', '//']);
    const version = this.ok(0.85) ? this.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0']) : this.pick(['HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.10', 'HTTP/0.9', 'HTTP/1.1 ', 'HTTP /1.1']);
    const sp = this.ok(0.95) ? ' ' : this.pick(['  ', '\t']);
    const { lines, body } = this.headers('request');
    const leading = this.ok(0.95) ? '' : '\r\n';
    return this.assemble(`${leading}${method}${sp}${target}${sp}${version}`, lines, body);
  }

  response(): Buffer {
    this.noisy = this.chance(0.5);
    const version = this.ok(0.9) ? this.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0']) : this.pick(['HTTP/1.2', 'HTTP/2', 'http/1.1', 'HTTP/1.1 ']);
    const status = this.ok(0.85) ? this.pick(['200', '200', '201', '204', '304', '404', '500', '302']) : this.pick(['99', '1000', '20', '600', '099', 'abc', '2OO', '']);
    const reason = this.ok(0.85) ? this.pick([' OK', ' Not Found', '', ' ', ' Weird\tReason']) : this.pick([` O${this.oddByte()}K`, '  OK']);
    const { lines, body } = this.headers('response');
    return this.assemble(`${version} ${status}${reason}`, lines, body);
  }
}
