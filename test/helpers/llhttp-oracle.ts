/**
 * Node's own HTTP parser (llhttp) as a test oracle, run on exactly the bytes given: a loopback
 * node:http server reads a request from a raw TCP connection, and a node:http client reads a
 * response a raw TCP server writes. What each saw (or that it refused) is returned.
 * @module
 */
import { once } from 'node:events';
import { createServer as createHttpServer, request } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export type OracleRequest =
  | { kind: 'refused' }
  | { kind: 'upgrade'; method: string; url: string }
  | { kind: 'request'; method: string; url: string; contentLength: string | undefined; transferEncoding: string | undefined; body: Buffer; complete: boolean };

export type OracleResponse =
  | { kind: 'refused' }
  | { kind: 'response'; status: number; body: Buffer; complete: boolean; rawHeaders: string[] };

/** Reads requests with node:http's server parser. */
export class RequestOracle {
  private readonly pending = new Map<number, (r: OracleRequest) => void>();
  private constructor(private readonly server: HttpServer, readonly port: number) {}

  static async start(): Promise<RequestOracle> {
    // Without a Host node answers 400 itself and leaves the socket open; the parser accepted it.
    const server = createHttpServer({ requireHostHeader: false });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const oracle = new RequestOracle(server, (server.address() as AddressInfo).port);
    const requests = new WeakMap<Socket, () => void>();
    server.on('connection', (socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('close', () => oracle.settle(socket, { kind: 'refused' }));
      // The client sent everything: whatever has not ended by then never will.
      socket.once('end', () => setImmediate(() => socket.emit('oracle-eof')));
    });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      let done = false;
      // A parse error later in the same bytes (a pipelined second message) comes before 'end':
      // what was read of this request by then (flowing data, `complete`) is its result.
      requests.set(req.socket, () => {
        // read() in flowing mode emits what it returns as 'data': this only flushes the buffer.
        while (req.read() !== null);
        finish(req.complete);
      });
      const finish = (complete: boolean): void => {
        if (done) return;
        done = true;
        oracle.settle(req.socket, { kind: 'request', method: req.method!, url: req.url!, contentLength: req.headers['content-length'],
          transferEncoding: req.headers['transfer-encoding'], body: Buffer.concat(chunks), complete });
        res.destroy();
      };
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => finish(req.complete));
      req.on('error', () => finish(false));
      req.on('close', () => finish(req.complete && req.readableEnded));
      req.socket.once('oracle-eof', () => finish(req.complete && req.readableEnded));
      req.resume();
    });
    // An expectation node cannot meet is answered 417: refused.
    server.on('checkExpectation', (req) => {
      oracle.settle(req.socket, { kind: 'refused' });
      req.socket.destroy();
    });
    server.on('connect', (req, socket: Socket) => {
      oracle.settle(socket, { kind: 'upgrade', method: req.method!, url: req.url! });
      socket.destroy();
    });
    server.on('upgrade', (req, socket: Socket) => {
      oracle.settle(socket, { kind: 'upgrade', method: req.method!, url: req.url! });
      socket.destroy();
    });
    server.on('clientError', (_err, socket: Socket) => {
      const request = requests.get(socket);
      if (request === undefined) oracle.settle(socket, { kind: 'refused' });
      else request();
      socket.destroy();
    });
    return oracle;
  }

  private settle(socket: Socket, result: OracleRequest): void {
    this.settleByPort(socket.remotePort ?? -1, result);
  }

  private settleByPort(key: number, result: OracleRequest): void {
    const resolve = this.pending.get(key);
    if (resolve === undefined) return;
    this.pending.delete(key);
    resolve(result);
  }

  /** What llhttp reads from `bytes` sent on a fresh connection (the write side is then closed). */
  parse(bytes: Buffer): Promise<OracleRequest> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.resume();
      socket.once('connect', () => {
        const port = socket.localPort!;
        // A head llhttp is still waiting on at end of input counts as refused.
        const timer = setTimeout(() => {
          if (process.env.FUZZ_DEBUG !== undefined) console.error('oracle timeout', JSON.stringify(bytes.toString('latin1')));
          this.settleByPort(port, { kind: 'refused' });
        }, 2000);
        this.pending.set(port, (r) => {
          clearTimeout(timer);
          socket.destroy();
          resolve(r);
        });
        socket.end(bytes);
      });
    });
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** Reads responses with node:http's client parser: `GET /<case number>` is answered with that case's bytes. */
export class ResponseOracle {
  private readonly cases = new Map<number, Buffer>();
  private next = 0;
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(): Promise<ResponseOracle> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const oracle = new ResponseOracle(server, (server.address() as AddressInfo).port);
    server.on('connection', (socket: Socket) => {
      socket.on('error', () => undefined);
      let head = '';
      socket.on('data', (c: Buffer) => {
        head += c.toString('latin1');
        const m = /^GET \/(\d+) /.exec(head);
        if (m === null || !head.includes('\r\n\r\n')) return;
        socket.removeAllListeners('data');
        socket.end(oracle.cases.get(Number(m[1])) ?? Buffer.alloc(0));
      });
    });
    return oracle;
  }

  /** What llhttp reads as the answer to a GET when the server sends `bytes` and closes. */
  parse(bytes: Buffer): Promise<OracleResponse> {
    const id = this.next++;
    this.cases.set(id, bytes);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (r: OracleResponse): void => {
        if (settled) return;
        settled = true;
        this.cases.delete(id);
        req.destroy();
        resolve(r);
      };
      let afterHead: (() => void) | null = null;
      const req = request({ host: '127.0.0.1', port: this.port, path: `/${id}`, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        const done = (complete: boolean): void => settle({ kind: 'response', status: res.statusCode!, body: Buffer.concat(chunks), complete, rawHeaders: res.rawHeaders });
        // A parse error in bytes after this response comes before 'end': `complete` says if it was whole.
        afterHead = () => {
          while (res.read() !== null);
          done(res.complete);
        };
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.complete));
        res.on('error', () => done(res.complete));
        res.on('aborted', () => done(res.complete));
      });
      req.on('upgrade', () => settle({ kind: 'refused' }));
      req.on('error', () => (afterHead === null ? settle({ kind: 'refused' }) : afterHead()));
      req.end();
    });
  }

  close(): void {
    this.server.close();
  }
}
