/**
 * Forwarding one request to an instance over its keep-alive upstream pool. Bodies stream both
 * ways with back-pressure; a client that leaves cancels the upstream request; an upstream that
 * breaks mid-answer cuts the client response; no response head within request_timeout → 504.
 * A request is sent again only if it was never delivered (the connection was refused): one that
 * reached its instance and got no answer gets 502, once, and is never replayed (docs: README
 * "Hostile clients and tenants"). An invalid answer → 502 and an event in the instance's log.
 * @module
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isAsleep } from '../core/lifecycle.js';
import type { SupervisorApi } from '../supervisor/types.js';
import type { ResponseHead } from './response-head.js';
import type { InstanceRoute, ServiceRoutes } from './route-table.js';
import type { UpstreamConnection, UpstreamFailure, UpstreamRequest, UpstreamSink } from './upstream.js';
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
  /** Records in the instance's log that it answered with something that is not HTTP/1.1. */
  readonly reportBadResponse: (route: InstanceRoute, reason: string) => void;
}

/** How the answer reaches the client (the front connection). */
export interface ForwardClient {
  /** The status the client got (for stats). */
  readonly statusCode: number;
  respondHead(head: ResponseHead): void;
  /** Returns false when the client is full: the job's resumeUpstream() is called once it drains. */
  respondData(chunk: Buffer): boolean;
  respondEnd(): void;
  respondError(status: 502 | 503 | 504): void;
  /** Cut the response short (the instance broke off mid-answer). */
  cut(): void;
  /** The instance accepted the upgrade: relay the 101 and tunnel the two sockets. */
  switchProtocols(head: ResponseHead, upstream: Socket, rest: Buffer): void;
}

/** Pause between retries while a crashed instance is noticed and restarted. */
const RETRY_STEP_MS = 100;

/**
 * One proxied request. Holds the instance's open-connection count from start until the client
 * exchange ends (the front connection calls finish()), a tunnel's whole life included, and
 * records the request's status and duration in the instance's stats.
 */
export class ForwardJob implements UpstreamSink {
  private route: InstanceRoute;
  private readonly startedAt = performance.now();
  private conn: UpstreamConnection | null = null;
  private attempt = 0;
  private retryDeadline = 0;
  private isFinished = false;
  /** The head went to the client: failures can no longer become an error response. */
  private isAnswered = false;
  /** False for a request idle_ignore names: it does not keep the instance awake. */
  private isActivity = true;

  constructor(
    private readonly ctx: ForwardContext,
    route: InstanceRoute,
    private readonly service: ServiceRoutes | null,
    private readonly request: UpstreamRequest,
    private readonly client: ForwardClient,
  ) {
    this.route = route;
  }

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
      this.conn = route.upstream(port).request(this.request, this);
      return;
    }
    this.waitThenSend(Date.now() + route.handle.serviceConfig.startupTimeoutMs).catch(this.fault);
  }

  /** A proxy bug stays with this request: its client connection is closed, the server goes on. */
  private readonly fault = (err: unknown): void => {
    this.ctx.logger.error({ err, instance: this.route.handle.name }, 'proxy error; the request was cut');
    this.client.cut();
  };

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
    else this.client.respondError(503);
  }

  /** An answer of the proxy's own, head and whole body. */
  private answerLocally(answer: LocalAnswer): void {
    this.isAnswered = true;
    this.client.respondHead(answer.head);
    if (this.request.method !== 'HEAD') this.client.respondData(answer.body);
    this.client.respondEnd();
  }

  /** The client exchange ended (answered, aborted, or its tunnel closed): release the instance, record stats. */
  finish(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    if (this.conn !== null) {
      this.conn.abort();
      this.conn = null;
    }
    this.route.handle.connectionClosed(this.isActivity);
    this.route.stats.record(this.client.statusCode, (performance.now() - this.startedAt) / 1000);
  }

  resumeUpstream(): void {
    this.conn?.resume();
  }

  onUpstreamHead(head: ResponseHead): void {
    this.isAnswered = true;
    this.client.respondHead(head);
  }

  onUpstreamData(chunk: Buffer): boolean {
    return this.client.respondData(chunk);
  }

  onUpstreamEnd(): void {
    this.conn = null;
    this.client.respondEnd();
  }

  onUpstreamSwitch(head: ResponseHead, socket: Socket, rest: Buffer): void {
    this.conn = null;
    this.isAnswered = true;
    if (this.isFinished) {
      socket.destroy();
      return;
    }
    this.client.switchProtocols(head, socket, rest);
  }

  onUpstreamFailure(failure: UpstreamFailure, reason?: string): void {
    this.conn = null;
    if (this.isFinished) return;
    if (this.isAnswered) {
      this.client.cut();
      return;
    }
    const instance = this.route.handle.name;
    switch (failure) {
      case 'unreached':
        this.retry();
        return;
      case 'timeout':
        this.ctx.logger.warn({ instance }, 'request timed out');
        this.client.respondError(504);
        return;
      case 'invalid':
        this.ctx.reportBadResponse(this.route, reason ?? 'invalid response');
        this.client.respondError(502);
        return;
      default:
        // Delivered and unanswered: the request may be what killed the instance; never resend it.
        this.ctx.logger.warn({ instance, failure }, 'upstream request failed');
        this.client.respondError(502);
    }
  }

  /** The instance could not be reached: try another pick, else wait for it to come back. */
  private retry(): void {
    this.attempt++;
    const other = this.service?.pickOther(this.route, this.attempt);
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
      this.client.respondError(502);
      return;
    }
    // Wait for the supervisor to notice the crash (a state change) or a short step, then retry.
    route.nextStateChange(Math.min(remaining, RETRY_STEP_MS)).then(() => {
      if (this.isFinished) return;
      if (route.isReachable) this.send();
      else return this.waitThenSend(this.retryDeadline);
    }).catch(this.fault);
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
