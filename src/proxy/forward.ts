/**
 * Forwarding one HTTP request to an instance over its keep-alive upstream pool, shared by both
 * front ends (node:http and the raw-socket path). Bodies stream both ways with back-pressure; a
 * client that leaves cancels the upstream request; an upstream that breaks mid-answer cuts the
 * client response; connection failures retry another pick or wait for the supervisor's restart;
 * no response head within request_timeout → 504.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isAsleep } from '../core/lifecycle.js';
import type { SupervisorApi } from '../supervisor/types.js';
import { sendProxyError } from './responses.js';
import type { ResponseHead } from './response-head.js';
import type { InstanceRoute, ServiceRoutes } from './route-table.js';
import type { RequestBodySource, UpstreamConnection, UpstreamFailure, UpstreamSink } from './upstream.js';
import { waitUntilReachable } from './wait-ready.js';
import type { WaitOutcome } from './wait-ready.js';
import { isBrowserNavigation, isIdleIgnored, sleepingAnswer, wakePageAnswer } from './wake-policy.js';
import type { LocalAnswer } from './wake-policy.js';

export interface ProxyLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ForwardContext {
  readonly supervisor: SupervisorApi;
  readonly logger: ProxyLogger;
}

const kJob = Symbol('forwardJob');
type JobResponse = ServerResponse & { [kJob]?: NodeForwardJob };

/** Pause between retries while a crashed instance is noticed and restarted. */
const RETRY_STEP_MS = 100;

function onResponseClose(this: JobResponse): void {
  this[kJob]?.finish();
}

function onResponseDrain(this: JobResponse): void {
  this[kJob]?.resumeUpstream();
}

/** What a proxied request sends upstream. */
export interface ForwardRequest {
  readonly method: string;
  readonly url: string;
  /** Rewritten upstream headers (upstreamRequestHeaders). */
  readonly headers: string[];
  /** The body to stream, or null for none. */
  readonly body: RequestBodySource | null;
  /** Content-Length, or -1 for a body of unknown length (sent chunked). */
  readonly bodyLength: number;
}

/**
 * One proxied request. Holds the instance's open-connection count from start until the client
 * response closes (the front end calls finish()), and records the request's status and duration
 * in the instance's stats. A front end supplies how the answer reaches its client.
 */
export abstract class ForwardJob implements UpstreamSink {
  private route: InstanceRoute;
  private readonly service: ServiceRoutes | null;
  private readonly request: ForwardRequest;
  private readonly ctx: ForwardContext;
  private readonly startedAt = performance.now();
  private conn: UpstreamConnection | null = null;
  private attempt = 0;
  private retryDeadline = 0;
  protected isFinished = false;
  /** The head went to the client: failures can no longer become an error response. */
  private isAnswered = false;
  /** False for a request idle_ignore names: it does not keep the instance awake. */
  private isActivity = true;

  constructor(ctx: ForwardContext, route: InstanceRoute, service: ServiceRoutes | null, request: ForwardRequest) {
    this.ctx = ctx;
    this.route = route;
    this.service = service;
    this.request = request;
  }

  /** The status the client got (for stats). */
  protected abstract get statusCode(): number;
  protected abstract sendHead(head: ResponseHead): void;
  /** Returns false when the client is full: call resumeUpstream() once it drains. */
  protected abstract sendData(chunk: Buffer): boolean;
  protected abstract sendEnd(): void;
  /** Cut the client response short (the instance broke off mid-answer). */
  protected abstract sendCut(): void;
  protected abstract sendError(status: 502 | 503 | 504): void;

  start(): void {
    const handle = this.route.handle;
    handle.connectionOpened();
    const r = this.request;
    if (isIdleIgnored(handle.serviceConfig, r.url, r.headers)) {
      this.isActivity = false;
      // A probe must not wake (or thaw) what sleeps.
      if (isAsleep(handle.state)) {
        this.answerLocally(sleepingAnswer());
        return;
      }
    }
    this.send();
  }

  private send(): void {
    const route = this.route;
    const port = route.handle.port;
    if (port !== null && route.isReachable) {
      const r = this.request;
      this.conn = route.upstream(port).request(r.method, r.url, r.headers, r.body, r.bodyLength, this);
      return;
    }
    void this.waitThenSend(Date.now() + route.handle.serviceConfig.startupTimeoutMs);
  }

  private async waitThenSend(deadline: number): Promise<void> {
    const waiting = waitUntilReachable(this.route, this.ctx.supervisor, deadline, () => this.isFinished || this.isAnswered);
    const pageAfterMs = this.route.handle.serviceConfig.wakePageAfterMs;
    const outcome = pageAfterMs > 0 && isBrowserNavigation(this.request.method, this.request.headers)
      ? await waitOrPage(waiting, pageAfterMs)
      : await waiting;
    if (outcome === 'cancelled' || this.isFinished) return;
    if (outcome === 'page') {
      // The wake goes on; the page reloads itself and gets the app once it is up.
      const handle = this.route.handle;
      this.answerLocally(wakePageAnswer(handle.serviceConfig, handle.name, Date.now() - handle.stateSince));
    } else if (outcome === 'ready') this.send();
    else this.sendError(503);
  }

  /** An answer of the proxy's own, head and whole body. */
  private answerLocally(answer: LocalAnswer): void {
    this.isAnswered = true;
    this.sendHead(answer.head);
    if (this.request.method !== 'HEAD') this.sendData(answer.body);
    this.sendEnd();
  }

  /** The client response closed (finished or aborted): release the instance, record stats. */
  finish(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    if (this.conn !== null) {
      this.conn.abort();
      this.conn = null;
    }
    this.route.handle.connectionClosed(this.isActivity);
    this.route.stats.record(this.statusCode, (performance.now() - this.startedAt) / 1000);
  }

  resumeUpstream(): void {
    this.conn?.resume();
  }

  onUpstreamHead(head: ResponseHead): void {
    this.isAnswered = true;
    this.sendHead(head);
  }

  onUpstreamData(chunk: Buffer): boolean {
    return this.sendData(chunk);
  }

  onUpstreamEnd(): void {
    this.conn = null;
    this.sendEnd();
  }

  onUpstreamFailure(failure: UpstreamFailure): void {
    this.conn = null;
    if (this.isFinished) return;
    if (this.isAnswered) {
      // The instance broke off mid-answer: end the client response the same way.
      this.sendCut();
      return;
    }
    if (failure === 'timeout') {
      this.ctx.logger.warn({ instance: this.route.handle.name }, 'request timed out');
      this.sendError(504);
    } else if (failure === 'stale' && this.request.body === null) {
      // The instance closed an idle keep-alive connection as we reused it: resend on another.
      this.send();
    } else if (failure === 'unreached' && this.request.body === null) {
      this.retry();
    } else {
      this.ctx.logger.warn({ instance: this.route.handle.name, failure }, 'upstream request failed');
      this.sendError(502);
    }
  }

  /** The instance could not be reached: try another pick, else wait for it to come back. */
  private retry(): void {
    this.attempt++;
    const service = this.service;
    const other = service?.pickOther(this.route, this.attempt);
    if (other !== undefined) {
      this.route.handle.connectionClosed(this.isActivity);
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
      this.sendError(502);
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

/** The wait's outcome, or 'page' once `pageAfterMs` passed first. */
function waitOrPage(waiting: Promise<WaitOutcome>, pageAfterMs: number): Promise<WaitOutcome | 'page'> {
  let timer: NodeJS.Timeout | undefined;
  const page = new Promise<'page'>((resolve) => {
    timer = setTimeout(() => resolve('page'), pageAfterMs);
  });
  return Promise.race([waiting, page]).finally(() => clearTimeout(timer));
}

/** The node:http front end's job: answers through a ServerResponse. */
export class NodeForwardJob extends ForwardJob {
  private readonly res: JobResponse;

  constructor(ctx: ForwardContext, route: InstanceRoute, service: ServiceRoutes | null, req: IncomingMessage, res: ServerResponse, headers: string[], hasBody: boolean, bodyLength: number) {
    super(ctx, route, service, { method: req.method!, url: req.url!, headers, body: hasBody ? req : null, bodyLength });
    this.res = res;
  }

  override start(): void {
    this.res[kJob] = this;
    this.res.on('close', onResponseClose);
    super.start();
  }

  override finish(): void {
    this.res[kJob] = undefined;
    super.finish();
  }

  protected get statusCode(): number {
    return this.res.statusCode;
  }

  protected sendHead(head: ResponseHead): void {
    this.res.writeHead(head.status, head.statusText === '' ? STATUS_CODES[head.status] : head.statusText, head.headers);
    // A streamed answer (SSE, long poll) gets its head now; a sized one sends head and body in one write.
    if (head.contentLength < 0) this.res.flushHeaders();
  }

  protected sendData(chunk: Buffer): boolean {
    const ok = this.res.write(chunk);
    if (!ok) this.res.once('drain', onResponseDrain);
    return ok;
  }

  protected sendEnd(): void {
    this.res.end();
  }

  protected sendCut(): void {
    this.res.destroy();
  }

  protected sendError(status: 502 | 503 | 504): void {
    sendProxyError(this.res, status);
  }
}
