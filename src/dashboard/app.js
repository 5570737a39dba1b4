// The dashboard's wiring: the token session, the live event stream (with reconnect backoff),
// debounced refreshes of the instance list and telemetry, actions, and the messages the user sees.
import { Api } from './api.js';
import { formatCount, formatLatency, NONE } from './format.js';
import { ChangesPanel } from './changes-panel.js';
import { InstancesTable } from './instances-table.js';
import { LogPanel } from './log-panel.js';

const TOKEN_KEY = 'tenement.apiToken';
const LOG_LINES = 100;
/** Events drive the list; this slow poll only refreshes counters no event announces (requests, idle). */
const POLL_MS = 30_000;
const LOGS_POLL_MS = 5000;
const REFRESH_DEBOUNCE_MS = 150;
const MAX_BACKOFF_MS = 30_000;
const INFO_MESSAGE_MS = 5000;

/** @param {string} id */
function $(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`dashboard markup lacks #${id}`);
  return node;
}

const ui = {
  login: $('login'),
  tokenForm: /** @type {HTMLFormElement} */ ($('token-form')),
  tokenInput: /** @type {HTMLInputElement} */ ($('token-input')),
  tokenError: $('token-error'),
  app: $('app'),
  serverInfo: $('server-info'),
  connection: $('connection'),
  staleNote: $('stale-note'),
  forget: $('forget-token'),
  message: $('message'),
  messageText: $('message-text'),
  messageClose: $('message-close'),
  stat: {
    instances: $('stat-instances'),
    running: $('stat-running'),
    requests: $('stat-requests'),
    errors: $('stat-errors'),
    p95: $('stat-p95'),
  },
  logsAuto: /** @type {HTMLInputElement} */ ($('logs-auto')),
  logsRefresh: $('logs-refresh'),
  logsClose: $('logs-close'),
};

/** Everything that belongs to one signed-in session; replaced on sign-out. */
let session = null;

const table = new InstancesTable($('instance-rows'), $('no-instances'), {
  onAction: (instance, action) => { void runAction(instance, action); },
  onWeight: (instance, text) => { void submitWeight(instance, text); },
  onSelect: (instance) => { toggleLogs(instance); },
});

const changes = new ChangesPanel({ section: $('changes'), rollouts: $('rollouts'), canaries: $('canaries') }, {
  onError: (context, e) => showError(context, e),
});

const logPanel = new LogPanel({ section: $('logs'), title: $('logs-title'), list: $('log-lines'), empty: $('logs-empty') });

// ---- session -------------------------------------------------------------------------------

function showLogin(error) {
  ui.app.hidden = true;
  ui.forget.hidden = true;
  ui.connection.hidden = true;
  ui.serverInfo.textContent = '';
  ui.login.hidden = false;
  ui.tokenError.hidden = error === undefined;
  ui.tokenError.textContent = error ?? '';
  ui.tokenInput.setAttribute('aria-invalid', String(error !== undefined));
  ui.tokenInput.focus();
}

/** @param {import('./api.js').ApiError} e */
function rejectionText(e) {
  if (e.status === 401) return `Token rejected: ${e.message}. Check the token and try again.`;
  return `Could not connect: ${describe(e)}`;
}

/** @param {string} token */
async function connect(token) {
  const api = new Api(token);
  let info;
  try {
    info = await api.server();
  } catch (e) {
    if (e.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    showLogin(rejectionText(e));
    return;
  }
  if (session !== null) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  ui.tokenInput.value = '';
  ui.login.hidden = true;
  ui.app.hidden = false;
  ui.forget.hidden = false;
  ui.serverInfo.textContent = `v${info.version} · ${info.domain}`;
  session = {
    api,
    events: new AbortController(),
    instances: [],
    stats: new Map(),
    selected: null,
    refreshTimer: 0,
    refreshing: null,
    refreshAgain: false,
    logsSoon: 0,
    pollTimer: setInterval(() => { if (document.visibilityState === 'visible') scheduleRefresh(0); }, POLL_MS),
    logsTimer: setInterval(() => { if (ui.logsAuto.checked && document.visibilityState === 'visible') void loadLogs(); }, LOGS_POLL_MS),
    tickTimer: setInterval(() => { if (!ui.app.classList.contains('stale')) table.tick(); }, 1000),
  };
  setConnection('connecting', 'Connecting…');
  scheduleRefresh(0);
  void followEvents(session);
}

/** Ends the session; with `reason`, the login form says why. */
function signOut(reason) {
  if (session !== null) {
    session.events.abort();
    clearTimeout(session.refreshTimer);
    clearInterval(session.pollTimer);
    clearInterval(session.logsTimer);
    clearInterval(session.tickTimer);
    clearTimeout(session.logsSoon);
    session = null;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  table.clear();
  changes.clear();
  logPanel.close();
  hideMessage();
  showLogin(reason);
}

/** A 401 mid-session (token revoked): back to the form. Returns true if it handled `e`. */
function handledAsRejected(e) {
  if (e?.status !== 401) return false;
  signOut(rejectionText(e));
  return true;
}

// ---- messages ------------------------------------------------------------------------------

let messageTimer = 0;

/** @param {{ message: string, code?: string, hint?: string }} e */
function describe(e) {
  return e.hint ? `${e.message} (${e.hint})` : e.message;
}

/**
 * @param {string} text
 * @param {'error' | 'info'} kind
 */
function showMessage(text, kind) {
  clearTimeout(messageTimer);
  ui.messageText.textContent = text;
  ui.message.className = `message ${kind}`;
  ui.message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  ui.message.hidden = false;
  if (kind === 'info') messageTimer = setTimeout(hideMessage, INFO_MESSAGE_MS);
}

function hideMessage() {
  clearTimeout(messageTimer);
  ui.message.hidden = true;
}

/**
 * @param {string} context what was being done, e.g. "Could not stop notes:alice"
 * @param {any} e
 */
function showError(context, e) {
  if (handledAsRejected(e)) return;
  showMessage(`${context}: ${describe(e)}`, 'error');
}

/**
 * @param {'connecting' | 'live' | 'waiting' | 'down'} kind
 * @param {string} text
 */
function setConnection(kind, text) {
  ui.connection.hidden = false;
  ui.connection.className = `connection ${kind}`;
  ui.connection.textContent = text;
  const stale = kind === 'waiting' || kind === 'down';
  ui.app.classList.toggle('stale', stale);
  ui.staleNote.hidden = !stale;
}

// ---- data ----------------------------------------------------------------------------------

/** Coalesces bursts of events into one re-fetch. */
function scheduleRefresh(delay = REFRESH_DEBOUNCE_MS) {
  if (session === null) return;
  clearTimeout(session.refreshTimer);
  session.refreshTimer = setTimeout(() => { void refresh(); }, delay);
}

async function refresh() {
  const s = session;
  if (s === null) return;
  // One fetch at a time; a request made meanwhile runs once more after it.
  if (s.refreshing !== null) {
    s.refreshAgain = true;
    return;
  }
  s.refreshing = Promise.allSettled([s.api.instances(), s.api.telemetry()]);
  const [instances, telemetry] = await s.refreshing;
  s.refreshing = null;
  if (session !== s) return;
  if (instances.status === 'fulfilled') {
    s.instances = instances.value;
    if (telemetry.status === 'fulfilled') s.stats = new Map(telemetry.value.map((t) => [t.instance, t]));
    else if (telemetry.reason.status !== 0) showError('Could not read telemetry', telemetry.reason);
    if (s.selected !== null && !s.instances.some((i) => i.instance === s.selected)) closeLogs();
    table.update(s.instances, s.selected);
    renderTelemetry(s);
  } else if (instances.reason.status === 0) {
    setConnection('down', 'Server unreachable');
  } else {
    showError('Could not list instances', instances.reason);
  }
  if (session === s && s.refreshAgain) {
    s.refreshAgain = false;
    void refresh();
  }
}

function renderTelemetry(s) {
  let running = 0;
  for (const i of s.instances) if (i.state === 'running' || i.state === 'degraded') running += 1;
  let requests = 0;
  let errors = 0;
  let slowest = null;
  for (const t of s.stats.values()) {
    requests += t.requests;
    errors += t.errors_5xx;
    if (t.p95_latency_ms !== null && (slowest === null || t.p95_latency_ms > slowest.p95_latency_ms)) slowest = t;
  }
  ui.stat.instances.textContent = formatCount(s.instances.length);
  ui.stat.running.textContent = formatCount(running);
  ui.stat.requests.textContent = formatCount(requests);
  ui.stat.errors.textContent = formatCount(errors);
  ui.stat.p95.textContent = slowest === null ? NONE : `${formatLatency(slowest.p95_latency_ms)} · ${slowest.instance}`;
}

/**
 * Reads /api/events until the session ends, reconnecting with exponential backoff (from the
 * server's `retry:` hint, doubling to 30 s, with jitter so many tabs do not reconnect in step).
 */
async function followEvents(s) {
  let baseMs = 1000;
  let delayMs = baseMs;
  const signal = s.events.signal;
  while (!signal.aborted) {
    try {
      await s.api.streamEvents(signal, {
        onOpen: () => {
          delayMs = baseMs;
          setConnection('live', 'Live');
          // Changes made while the stream was down were missed: catch up.
          scheduleRefresh(0);
          void changes.load(s.api);
        },
        onEvent: (name, data) => onServerEvent(s, name, data),
        onRetry: (ms) => { baseMs = Math.max(500, ms); },
      });
    } catch (e) {
      if (handledAsRejected(e)) return;
      if (e.status !== 0 && !signal.aborted) showError('The live event stream was refused', e);
    }
    if (signal.aborted) return;
    const wait = Math.round(delayMs * (0.8 + Math.random() * 0.4));
    setConnection('waiting', `Reconnecting in ${Math.ceil(wait / 1000)} s…`);
    await new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve(undefined);
      };
      const timer = setTimeout(done, wait);
      signal.addEventListener('abort', done);
    });
    delayMs = Math.min(delayMs * 2, MAX_BACKOFF_MS);
  }
}

function onServerEvent(s, name, data) {
  if (name === 'rollout' || name === 'deploy') changes.apply(name, data);
  if (name !== 'state' && name !== 'lifecycle' && name !== 'weight' && name !== 'config') return;
  scheduleRefresh();
  if (s.selected !== null && data !== null && typeof data === 'object' && data.instance === s.selected) {
    // A lifecycle event is also a log line; fetch it once the burst settles.
    clearTimeout(s.logsSoon);
    s.logsSoon = setTimeout(() => { void loadLogs(); }, 300);
  }
}

// ---- actions -------------------------------------------------------------------------------

async function runAction(instance, action) {
  const s = session;
  if (s === null) return;
  table.setBusy(instance, true);
  try {
    await s.api.act(instance, action);
  } catch (e) {
    showError(`Could not ${action} ${instance}`, e);
  } finally {
    table.setBusy(instance, false);
    scheduleRefresh(0);
  }
}

/**
 * Sends what was typed: a number if it reads as one, the text otherwise, so the API's own
 * validation (and its message) decides what is a valid weight.
 */
async function submitWeight(instance, text) {
  const s = session;
  if (s === null) return;
  const trimmed = text.trim();
  const weight = /^[+-]?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
  const input = table.rows.get(instance)?.weightInput;
  try {
    const info = await s.api.setWeight(instance, weight);
    input?.removeAttribute('aria-invalid');
    table.clearWeightInput(instance);
    showMessage(`Weight of ${instance} set to ${info.weight}.`, 'info');
  } catch (e) {
    input?.setAttribute('aria-invalid', 'true');
    showError(`Weight of ${instance} not changed`, e);
  } finally {
    scheduleRefresh(0);
  }
}

// ---- logs ----------------------------------------------------------------------------------

function toggleLogs(instance) {
  const s = session;
  if (s === null) return;
  if (s.selected === instance) {
    closeLogs();
    return;
  }
  s.selected = instance;
  logPanel.open(instance);
  table.update(s.instances, s.selected);
  void loadLogs();
}

function closeLogs() {
  if (session !== null) {
    session.selected = null;
    table.update(session.instances, null);
  }
  logPanel.close();
}

async function loadLogs() {
  const s = session;
  if (s === null || s.selected === null) return;
  const instance = s.selected;
  const colon = instance.indexOf(':');
  try {
    const lines = await s.api.logs(instance.slice(0, colon), instance.slice(colon + 1), LOG_LINES);
    if (session === s && s.selected === instance) logPanel.show(lines);
  } catch (e) {
    showError(`Could not read the logs of ${instance}`, e);
  }
}

// ---- start ---------------------------------------------------------------------------------

ui.tokenForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = ui.tokenInput.value.trim();
  if (token === '') {
    showLogin('Enter an API token.');
    return;
  }
  void connect(token);
});
ui.forget.addEventListener('click', () => signOut());
ui.messageClose.addEventListener('click', hideMessage);
ui.logsRefresh.addEventListener('click', () => { void loadLogs(); });
ui.logsClose.addEventListener('click', closeLogs);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') scheduleRefresh(0);
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved === null) showLogin();
else void connect(saved);
