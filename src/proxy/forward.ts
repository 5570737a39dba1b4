/**
 * Forwarding one HTTP request to an instance over its keep-alive upstream pool. Bodies stream
 * both ways with back-pressure; a client that leaves cancels the upstream request; an upstream
 * that breaks mid-answer cuts the client response; connection failures retry another pick or
 * wait for the supervisor's restart; no response head within request_timeout → 504.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { SupervisorApi } from '../supervisor/types.js';
import { sendProxyError } from './responses.js';
import type { ResponseHead } from './response-head.js';
import type { InstanceRoute, ServiceRoutes } from './route-table.js';
import type { UpstreamConnection, UpstreamFailure, UpstreamSink } from './upstream.js';
import { waitUntilReachable } from './wait-ready.js';

export interface ProxyLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ForwardContext {
  readonly supervisor: SupervisorApi;
  readonly logger: ProxyLogger;
}

const kJob = Symbol('forwardJob');
type JobResponse = ServerResponse & { [kJob]?: ForwardJob };

/** Pause between retries while a crashed instance is noticed and restarted. */
const RETRY_STEP_MS = 100;

function onResponseClose(this: JobResponse): void {
  this[kJob]?.finish();
}

function onResponseDrain(this: JobResponse): void {
  this[kJob]?.resumeUpstream();
}

/**
 * One proxied request. Holds the instance's open-connection count from start until the client
 * response closes, and records the request's status and duration in the instance's stats.
 */
export class ForwardJob implements UpstreamSink {
  private route: InstanceRoute;
  private readonly service: ServiceRoutes | null;
  private readonly req: IncomingMessage;
  private readonly res: JobResponse;
  private readonly headers: string[];
  private readonly bodyLength: number;
  private readonly hasBody: boolean;
  private readonly ctx: ForwardContext;
  private readonly startedAt = performance.now();
  private conn: UpstreamConnection | null = null;
  private attempt = 0;
  private retryDeadline = 0;
  private isFinished = false;
  /** The head went to the client: failures can no longer become an error response. */
  private isAnswered = false;

  constructor(ctx: ForwardContext, route: InstanceRoute, service: ServiceRoutes | null, req: IncomingMessage, res: ServerResponse, headers: string[], hasBody: boolean, bodyLength: number) {
    this.ctx = ctx;
    this.route = route;
    this.service = service;
    this.req = req;
    this.res = res;
    this.headers = headers;
    this.hasBody = hasBody;
    this.bodyLength = bodyLength;
  }

  start(): void {
    this.route.handle.connectionOpened();
    this.res[kJob] = this;
    this.res.on('close', onResponseClose);
    this.send();
  }

  private send(): void {
    const route = this.route;
    const port = route.handle.port;
    if (port !== null && route.isReachable) {
      this.conn = route.upstream(port).request(this.req.method!, this.req.url!, this.headers, this.hasBody ? this.req : null, this.bodyLength, this);
      return;
    }
    void this.waitThenSend(Date.now() + route.handle.serviceConfig.startupTimeoutMs);
  }

  private async waitThenSend(deadline: number): Promise<void> {
    const outcome = await waitUntilReachable(this.route, this.ctx.supervisor, deadline, () => this.isFinished);
    if (outcome === 'cancelled') return;
    if (outcome === 'ready') this.send();
    else sendProxyError(this.res, 503);
  }

  /** The client response closed (finished or aborted): release the instance, record stats. */
  finish(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    this.res[kJob] = undefined;
    if (this.conn !== null) {
      this.conn.abort();
      this.conn = null;
    }
    this.route.handle.connectionClosed();
    this.route.stats.record(this.res.statusCode, (performance.now() - this.startedAt) / 1000);
  }

  resumeUpstream(): void {
    this.conn?.resume();
  }

  onUpstreamHead(head: ResponseHead): void {
    this.isAnswered = true;
    this.res.writeHead(head.status, head.statusText === '' ? STATUS_CODES[head.status] : head.statusText, head.headers);
    // A streamed answer (SSE, long poll) gets its head now; a sized one sends head and body in one write.
    if (head.contentLength < 0) this.res.flushHeaders();
  }

  onUpstreamData(chunk: Buffer): boolean {
    const ok = this.res.write(chunk);
    if (!ok) this.res.once('drain', onResponseDrain);
    return ok;
  }

  onUpstreamEnd(): void {
    this.conn = null;
    this.res.end();
  }

  onUpstreamFailure(failure: UpstreamFailure): void {
    this.conn = null;
    if (this.isFinished) return;
    if (this.isAnswered) {
      // The instance broke off mid-answer: end the client response the same way.
      this.res.destroy();
      return;
    }
    if (failure === 'timeout') {
      this.ctx.logger.warn({ instance: this.route.handle.name }, 'request timed out');
      sendProxyError(this.res, 504);
    } else if (failure === 'stale' && !this.hasBody) {
      // The instance closed an idle keep-alive connection as we reused it: resend on another.
      this.send();
    } else if (failure === 'unreached' && !this.hasBody) {
      this.retry();
    } else {
      this.ctx.logger.warn({ instance: this.route.handle.name, failure }, 'upstream request failed');
      sendProxyError(this.res, 502);
    }
  }

  /** The instance could not be reached: try another pick, else wait for it to come back. */
  private retry(): void {
    this.attempt++;
    const service = this.service;
    const other = service?.pickOther(this.route, this.attempt);
    if (other !== undefined && this.attempt < service!.pickable.length) {
      this.route.handle.connectionClosed();
      this.route = other;
      other.handle.connectionOpened();
      this.send();
      return;
    }
    const route = this.route;
    if (this.retryDeadline === 0) this.retryDeadline = Date.now() + route.handle.serviceConfig.startupTimeoutMs;
    const remaining = this.retryDeadline - Date.now();
    if (remaining <= 0) {
      this.ctx.logger.warn({ instance: route.handle.name }, 'instance unreachable');
      sendProxyError(this.res, 502);
      return;
    }
    // Wait for the supervisor to notice the crash (a state change) or a short step, then retry.
    void route.nextStateChange(Math.min(remaining, RETRY_STEP_MS)).then(() => {
      if (this.isFinished) return;
      if (route.isReachable) this.send();
      else void this.waitThenSend(this.retryDeadline);
    });
  }
}
