import { button, el } from './dom.js';
// The "Rollouts and canaries" panel: each service's current or last `ten rollout` (cohort i/n,
// moved/total, state, reason) with Pause / Resume / Abort, and each canary deploy (step, share of
// the traffic, state, reason) with Abort. Kept current by the `rollout` and `deploy` events, which
// carry the whole status; hidden while there is nothing to show or the token may not see them.

/** Rollout states in which the buttons do something. */
const CAN_PAUSE = new Set(['running']);
const CAN_RESUME = new Set(['paused']);
const CAN_ABORT_ROLLOUT = new Set(['running', 'paused']);
const CAN_ABORT_CANARY = new Set(['starting', 'running']);

/**
 * @typedef {{ service: string, state: string, cohorts: number[], cohort: number, interval_s: number,
 *   moved: number, total: number, reason: string | null, message: string | null }} RolloutStatus
 * @typedef {{ service: string, instance: string, state: string, steps: number[], step: number, percent: number,
 *   reason: string | null }} CanaryStatus
 * @typedef {{ section: HTMLElement, rollouts: HTMLElement, canaries: HTMLElement }} ChangesMarkup
 * @typedef {{ onError: (context: string, e: unknown) => void }} ChangesHandlers
 */

class RolloutItem {
  /**
   * @param {string} service
   * @param {(verb: 'pause' | 'resume' | 'abort') => void} act
   */
  constructor(service, act) {
    this.li = el('li', 'change');
    this.li.dataset.rollout = service;
    this.state = el('span', 'badge');
    this.progress = /** @type {HTMLProgressElement} */ (el('progress', 'change-progress'));
    this.progress.setAttribute('aria-label', `Instances of ${service} moved`);
    this.summary = el('span', 'change-summary');
    this.reason = el('p', 'change-reason');
    this.pause = button('Pause', `Pause rollout of ${service}`, () => act('pause'));
    this.resume = button('Resume', `Resume rollout of ${service}`, () => act('resume'));
    this.abort = button('Abort', `Abort rollout of ${service}`, () => act('abort'));
    const head = el('div', 'change-head');
    const actions = el('div', 'actions');
    actions.setAttribute('role', 'group');
    actions.setAttribute('aria-label', `Rollout of ${service}`);
    actions.append(this.pause, this.resume, this.abort);
    head.append(el('strong', 'instance-name', service), el('span', 'muted', 'rollout'), this.state, this.progress, this.summary, actions);
    this.li.append(head, this.reason);
  }

  /** @param {RolloutStatus} r */
  update(r) {
    this.state.textContent = r.state.replace('_', ' ');
    this.state.className = `badge change-${r.state}`;
    this.progress.max = Math.max(1, r.total);
    this.progress.value = r.moved;
    this.summary.textContent = `cohort ${r.cohort}/${r.cohorts.length} · ${r.moved}/${r.total} moved · ${r.interval_s} s per cohort`;
    const why = r.reason ?? r.message;
    this.reason.textContent = why ?? '';
    this.reason.hidden = why === null;
    this.pause.setAttribute('aria-disabled', String(!CAN_PAUSE.has(r.state)));
    this.resume.setAttribute('aria-disabled', String(!CAN_RESUME.has(r.state)));
    this.abort.setAttribute('aria-disabled', String(!CAN_ABORT_ROLLOUT.has(r.state)));
  }
}

class CanaryItem {
  /**
   * @param {string} service
   * @param {() => void} abort
   */
  constructor(service, abort) {
    this.li = el('li', 'change');
    this.li.dataset.canary = service;
    this.name = el('strong', 'instance-name');
    this.state = el('span', 'badge');
    this.summary = el('span', 'change-summary');
    this.reason = el('p', 'change-reason');
    this.abort = button('Abort', `Abort canary of ${service}`, abort);
    const head = el('div', 'change-head');
    head.append(this.name, el('span', 'muted', 'canary'), this.state, this.summary, this.abort);
    this.li.append(head, this.reason);
  }

  /** @param {CanaryStatus} c */
  update(c) {
    this.name.textContent = c.instance;
    this.state.textContent = c.state.replace('_', ' ');
    this.state.className = `badge change-${c.state}`;
    this.summary.textContent = canarySummary(c);
    this.reason.textContent = c.reason ?? '';
    this.reason.hidden = c.reason === null;
    this.abort.setAttribute('aria-disabled', String(!CAN_ABORT_CANARY.has(c.state)));
  }
}

/** @param {CanaryStatus} c */
function canarySummary(c) {
  const at = `step ${c.step}/${c.steps.length}`;
  if (c.state === 'promoted') return `${at} passed · 100 % of the traffic`;
  if (c.state === 'rolled_back') return c.step === 0 ? 'never got healthy · no traffic' : `stopped at ${at} · no traffic`;
  if (c.step === 0) return `waiting for it to be healthy · steps ${c.steps.join(', ')} %`;
  return `${at} · ${c.percent} % of the traffic`;
}

export class ChangesPanel {
  /**
   * @param {ChangesMarkup} markup
   * @param {ChangesHandlers} handlers
   */
  constructor(markup, handlers) {
    this.markup = markup;
    this.handlers = handlers;
    /** @type {import('./api.js').Api | null} */
    this.api = null;
    /** @type {Map<string, RolloutItem>} */
    this.rollouts = new Map();
    /** @type {Map<string, CanaryItem>} */
    this.canaries = new Map();
  }

  /**
   * Reads every service's rollout and canary. A token that may not see them (a tenant's) gets no panel.
   * @param {import('./api.js').Api} api
   */
  async load(api) {
    this.api = api;
    const [rollouts, canaries] = await Promise.allSettled([api.rollouts(), api.deploys()]);
    if (this.api !== api) return;
    if (rollouts.status === 'fulfilled') for (const r of rollouts.value) this.apply('rollout', r);
    if (canaries.status === 'fulfilled') for (const c of canaries.value) this.apply('deploy', c);
  }

  /**
   * A `rollout` or `deploy` event (or a status the API answered with).
   * @param {'rollout' | 'deploy'} kind
   * @param {any} status
   */
  apply(kind, status) {
    if (status === null || typeof status !== 'object' || typeof status.service !== 'string') return;
    const service = status.service;
    if (kind === 'rollout') {
      let item = this.rollouts.get(service);
      if (item === undefined) {
        item = new RolloutItem(service, (verb) => { void this.rolloutAction(service, verb); });
        this.rollouts.set(service, item);
        this.markup.rollouts.append(item.li);
      }
      item.update(status);
    } else {
      let item = this.canaries.get(service);
      if (item === undefined) {
        item = new CanaryItem(service, () => { void this.abortCanary(service); });
        this.canaries.set(service, item);
        this.markup.canaries.append(item.li);
      }
      item.update(status);
    }
    this.markup.section.hidden = false;
  }

  /**
   * @param {string} service
   * @param {'pause' | 'resume' | 'abort'} verb
   */
  async rolloutAction(service, verb) {
    if (this.api === null) return;
    try {
      this.apply('rollout', await this.api.rolloutAction(service, verb));
    } catch (e) {
      this.handlers.onError(`Could not ${verb} the rollout of ${service}`, e);
    }
  }

  /** @param {string} service */
  async abortCanary(service) {
    if (this.api === null) return;
    try {
      this.apply('deploy', await this.api.abortCanary(service));
    } catch (e) {
      this.handlers.onError(`Could not abort the canary of ${service}`, e);
    }
  }

  /** Forgets everything (sign-out). */
  clear() {
    this.api = null;
    this.rollouts.clear();
    this.canaries.clear();
    this.markup.rollouts.replaceChildren();
    this.markup.canaries.replaceChildren();
    this.markup.section.hidden = true;
  }
}
