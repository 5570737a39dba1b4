/**
 * A management request (dashboard, /api/*, /health, /metrics) on a front connection. It was
 * parsed by the front's own parser like every other request; the handler gets node's
 * IncomingMessage and ServerResponse built from that head, the response writes straight to the
 * socket, and the connection goes on parsing when it is finished. node:http never parses a byte.
 * @module
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { RawConnection, RawExchange } from './raw-connection.js';
import type { BodySink } from './request-body.js';
import type { RequestHead } from './request-head.js';

export type ManagementHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** ServerResponse notes whether its head said `Connection: close` here (not in the public typings). */
interface ResponseInternals {
  _last?: boolean;
  _closed?: boolean;
}

/** The headers object node would build: lower-case names, repeats joined (Set-Cookie as a list). */
function headersObject(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const seen = out[name];
    if (name === 'set-cookie') out[name] = seen === undefined ? [value] : [...(seen as string[]), value];
    else if (seen === undefined) out[name] = value;
    else out[name] = `${seen as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}

class ManagementExchange implements RawExchange {
  private isOver = false;

  constructor(
    private readonly conn: RawConnection,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  /** The response is written: the connection may take the next request. */
  readonly onFinish = (): void => {
    const res = this.res;
    res.detachSocket(this.conn.socket);
    this.conn.endManagement((res as unknown as ResponseInternals)._last === true);
  };

  /** The request body as the connection feeds it; its end marks the request complete, as node's parser does. */
  readonly body: BodySink = {
    push: (chunk: Buffer | null): boolean => {
      if (chunk === null) this.req.complete = true;
      return this.req.push(chunk);
    },
    destroy: (): void => void this.req.destroy(),
  };

  finish(): void {
    if (this.isOver) return;
    this.isOver = true;
    const { req, res } = this;
    process.nextTick(() => {
      // Answered before its body was read: the connection drops the rest; the handler sees the end.
      if (!req.complete && !this.conn.socket.destroyed) {
        req.complete = true;
        req.push(null);
      }
      // Read to the end, the request closes itself ('close'), as after a node:http exchange.
      if (req.complete) req.resume();
      else req.destroy();
      const internals = res as unknown as ResponseInternals;
      if (internals._closed !== true) {
        internals._closed = true;
        res.emit('close');
      }
    });
  }

  resumeUpstream(): void {
    this.res.emit('drain');
  }
}

export function serveManagement(conn: RawConnection, head: RequestHead, handler: ManagementHandler): void {
  const socket = conn.socket;
  const req = new IncomingMessage(socket);
  req.method = head.method;
  req.url = head.target;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = head.isHttp11 ? 1 : 0;
  req.httpVersion = head.isHttp11 ? '1.1' : '1.0';
  req.rawHeaders = head.rawHeaders;
  req.headers = headersObject(head.rawHeaders);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = !head.wantsClose;
  if (conn.isEncrypted) {
    const secure = conn.secureHeaders;
    for (let i = 0; i < secure.length; i += 2) res.setHeader(secure[i]!, secure[i + 1]!);
  }
  const exchange = new ManagementExchange(conn, req, res);
  if (!conn.attach(exchange)) return;
  conn.setBodySink(exchange.body);
  res.assignSocket(socket);
  res.on('finish', exchange.onFinish);
  handler(req, res);
}
