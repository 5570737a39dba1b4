// The dashboard's only way to the server: bearer-authenticated JSON calls to /api and the
// /api/events stream (read with fetch, since EventSource cannot send an Authorization header).

/** An error the API answered with (`{"error":{"code","message","hint"?}}`), or a network failure. */
export class ApiError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} status 0 when the server could not be reached
   * @param {string | undefined} hint
   */
  constructor(code, message, status, hint) {
    super(message);
    this.code = code;
    this.status = status;
    this.hint = hint;
  }
}

/**
 * @param {Response} res
 * @returns {Promise<ApiError>}
 */
async function errorFrom(res) {
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = body && typeof body === 'object' ? body.error : undefined;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    return new ApiError(e.code, e.message, res.status, typeof e.hint === 'string' ? e.hint : undefined);
  }
  return new ApiError('http_' + res.status, `the server answered ${res.status} ${res.statusText}`.trim(), res.status, undefined);
}

export class Api {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   */
  async call(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiError('unreachable', 'the server could not be reached', 0, undefined);
    }
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return undefined;
    return res.json();
  }

  server() { return this.call('GET', '/api/server'); }
  instances() { return this.call('GET', '/api/instances'); }
  telemetry() { return this.call('GET', '/api/telemetry'); }

  /**
   * @param {string} instance `service:id`
   * @param {'start' | 'stop' | 'restart'} action
   */
  act(instance, action) {
    return this.call('POST', `/api/instances/${encodeURIComponent(instance)}/${action}`);
  }

  /**
   * @param {string} instance
   * @param {unknown} weight sent as given, so the API is the one judge of what is valid
   */
  setWeight(instance, weight) {
    return this.call('PUT', `/api/instances/${encodeURIComponent(instance)}/weight`, { weight });
  }

  rollouts() { return this.call('GET', '/api/rollouts'); }
  deploys() { return this.call('GET', '/api/deploys'); }

  /**
   * @param {string} service
   * @param {'pause' | 'resume' | 'abort'} verb
   */
  rolloutAction(service, verb) {
    return this.call('POST', `/api/rollouts/${encodeURIComponent(service)}/${verb}`);
  }

  /** @param {string} service */
  abortCanary(service) {
    return this.call('POST', `/api/deploys/${encodeURIComponent(service)}/abort`);
  }

  /**
   * @param {string} service
   * @param {string} id
   * @param {number} limit
   */
  logs(service, id, limit) {
    const q = new URLSearchParams({ service, id, limit: String(limit) });
    return this.call('GET', `/api/logs?${q}`);
  }

  /**
   * Reads /api/events until the stream ends or `signal` aborts. Resolves when the server closes
   * the stream; rejects with ApiError when the request is refused or the connection breaks.
   * @param {AbortSignal} signal
   * @param {{ onOpen: () => void, onEvent: (name: string, data: unknown) => void, onRetry: (ms: number) => void }} handlers
   */
  async streamEvents(signal, handlers) {
    let res;
    try {
      res = await fetch('/api/events', {
        headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
        cache: 'no-store',
        signal,
      });
    } catch {
      if (signal.aborted) return;
      throw new ApiError('unreachable', 'the event stream could not be opened', 0, undefined);
    }
    if (!res.ok || res.body === null) throw await errorFrom(res);
    handlers.onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          dispatch(buffered.slice(0, end), handlers);
          buffered = buffered.slice(end + 2);
        }
      }
    } catch {
      if (signal.aborted) return;
      throw new ApiError('unreachable', 'the event stream was interrupted', 0, undefined);
    }
  }
}

/**
 * One server-sent event block: `event:`, `data:` (joined by newlines) and `retry:` fields;
 * comment lines (`: keep-alive`) are skipped.
 * @param {string} block
 * @param {{ onEvent: (name: string, data: unknown) => void, onRetry: (ms: number) => void }} handlers
 */
function dispatch(block, handlers) {
  let name = 'message';
  /** @type {string[]} */
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) handlers.onRetry(Number(value));
  }
  if (data.length === 0) return;
  let parsed;
  try {
    parsed = JSON.parse(data.join('\n'));
  } catch {
    return;
  }
  handlers.onEvent(name, parsed);
}
