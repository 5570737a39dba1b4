/**
 * The CLI's HTTP client for the management API. Error bodies are decoded back into
 * `TenementError(code, message, hint)`, so exit codes follow the server's code, not a guess
 * from the HTTP status. It speaks node:http rather than fetch: loading fetch's engine (undici)
 * would cost a short command like `ten ps` more than all the rest of its start-up.
 * @module
 */
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { isErrorCode, TenementError } from '../core/errors.js';
import type {
  CanaryStatus,
  ConfigResponse, DeployBody, DeployResponse, ErrorBody, HealthResponse, InstanceInfo, RemoveResponse,
  ReloadResponse, RolloutBody, RolloutStatus, RouteBody, RouteResponse, ServerInfoResponse, SpawnBody, SpawnResponse,
} from '../api/contract.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class ApiClient {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  private readonly token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
  }

  /** Sends one request; resolves with the parsed JSON body, rejects with a TenementError. */
  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.send(method, path, {
      accept: 'application/json',
      ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
    }, payload);
    const text = await readText(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw this.decodeError(status, text);
    if (text.length === 0) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new TenementError('internal', `unexpected answer from ${this.baseUrl}: not JSON (HTTP ${status})`);
    }
  }

  /**
   * Opens a server-sent events stream (`GET path`) and returns its body; errors are decoded as for
   * `request`. `lastEventId` resumes after that event.
   */
  async openStream(path: string, options: { lastEventId?: string; signal?: AbortSignal } = {}): Promise<AsyncIterable<Buffer>> {
    const res = await this.send('GET', path, {
      accept: 'text/event-stream',
      ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
    }, undefined, options.signal);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw this.decodeError(status, await readText(res));
    return res;
  }

  /** One exchange, on its own connection (nothing left open to keep the CLI alive). */
  private async send(method: Method, path: string, headers: OutgoingHttpHeaders, payload?: string, signal?: AbortSignal): Promise<IncomingMessage> {
    const url = new URL(`${this.baseUrl}${path}`);
    const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
    try {
      return await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request(url, {
          method, agent: false,
          headers: { ...headers, ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }) },
          ...(signal === undefined ? {} : { signal }),
        }, resolve);
        req.on('error', reject);
        req.end(payload);
      });
    } catch (err) {
      throw new TenementError('server_unreachable', `cannot reach tenement at ${this.baseUrl} (is \`ten serve\` running?)`, {
        hint: 'start it with `ten serve`, or point --server / TENEMENT_SERVER at it',
        cause: err,
      });
    }
  }

  private decodeError(status: number, text: string): TenementError {
    let parsed: Partial<ErrorBody> | undefined;
    try {
      parsed = JSON.parse(text) as Partial<ErrorBody>;
    } catch {
      parsed = undefined;
    }
    const e = parsed?.error;
    if (e !== undefined && isErrorCode(e.code) && typeof e.message === 'string') {
      return new TenementError(e.code, e.message, typeof e.hint === 'string' ? { hint: e.hint } : {});
    }
    return new TenementError('internal', `unexpected answer from ${this.baseUrl}: HTTP ${status}`, {
      hint: 'is --server / TENEMENT_SERVER pointing at tenement?',
    });
  }

  list(): Promise<InstanceInfo[]> {
    return this.request('GET', '/api/instances');
  }

  info(name: string): Promise<InstanceInfo> {
    return this.request('GET', `/api/instances/${encodeURIComponent(name)}`);
  }

  health(name: string): Promise<HealthResponse> {
    return this.request('GET', `/api/instances/${encodeURIComponent(name)}/health`);
  }

  spawn(body: SpawnBody): Promise<SpawnResponse> {
    return this.request('POST', '/api/instances', body);
  }

  start(name: string, options: { wait: boolean }): Promise<InstanceInfo> {
    return this.request('POST', `/api/instances/${encodeURIComponent(name)}/start`, { wait: options.wait });
  }

  stop(name: string, options: { hold: boolean }): Promise<InstanceInfo> {
    return this.request('POST', `/api/instances/${encodeURIComponent(name)}/stop`, { hold: options.hold });
  }

  wake(name: string): Promise<InstanceInfo> {
    return this.request('POST', `/api/instances/${encodeURIComponent(name)}/wake`);
  }

  restart(name: string, options: { wait: boolean }): Promise<InstanceInfo> {
    return this.request('POST', `/api/instances/${encodeURIComponent(name)}/restart`, { wait: options.wait });
  }

  remove(name: string, options: { purge: boolean }): Promise<RemoveResponse> {
    return this.request('DELETE', `/api/instances/${encodeURIComponent(name)}${options.purge ? '?purge=true' : ''}`);
  }

  setWeight(name: string, weight: number): Promise<InstanceInfo> {
    return this.request('PUT', `/api/instances/${encodeURIComponent(name)}/weight`, { weight });
  }

  deploy(body: DeployBody): Promise<DeployResponse> {
    return this.request('POST', '/api/deploy', body);
  }

  /** `deploy` with `canary`: answers at once with the canary starting. */
  deployCanary(body: DeployBody): Promise<CanaryStatus> {
    return this.request('POST', '/api/deploy', body);
  }

  canary(service: string): Promise<CanaryStatus> {
    return this.request('GET', `/api/deploys/${encodeURIComponent(service)}`);
  }

  route(body: RouteBody): Promise<RouteResponse> {
    return this.request('POST', '/api/route', body);
  }

  reload(): Promise<ReloadResponse> {
    return this.request('POST', '/api/reload');
  }

  startRollout(body: RolloutBody): Promise<RolloutStatus> {
    return this.request('POST', '/api/rollouts', body);
  }

  rollout(service: string): Promise<RolloutStatus> {
    return this.request('GET', `/api/rollouts/${encodeURIComponent(service)}`);
  }

  controlRollout(service: string, verb: 'pause' | 'resume' | 'abort'): Promise<RolloutStatus> {
    return this.request('POST', `/api/rollouts/${encodeURIComponent(service)}/${verb}`);
  }

  config(): Promise<ConfigResponse> {
    return this.request('GET', '/api/config');
  }

  server(): Promise<ServerInfoResponse> {
    return this.request('GET', '/api/server');
  }
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

