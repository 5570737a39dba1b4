// The instances table. Rows are keyed by instance name and updated in place, so a live refresh
// never steals keyboard focus or wipes a weight being typed. Text goes in through textContent only.
import { formatDuration, formatPlain } from './format.js';
import { button, el } from './dom.js';

/** States in which a start would do nothing: the instance already has, or is getting, a process. */
const STARTED = new Set(['starting', 'running', 'degraded', 'frozen']);

/**
 * @typedef {{ instance: string, service: string, id: string, state: string, health: string,
 *   health_check_status: number | null, port: number | null, uptime_s: number | null, idle_s: number | null, weight: number,
 *   restarts: number, isolation: string, outdated: boolean }} InstanceInfo
 * @typedef {{
 *   onAction: (instance: string, action: 'start' | 'stop' | 'restart') => void,
 *   onWeight: (instance: string, text: string) => void,
 *   onSelect: (instance: string) => void,
 * }} TableHandlers
 */

/**
 * aria-disabled rather than `disabled`: a disabled button drops keyboard focus, and these change
 * under the user's cursor as the instance's state moves.
 * @param {HTMLButtonElement} b
 * @param {boolean} off
 */
function setOff(b, off) {
  b.setAttribute('aria-disabled', String(off));
}

class Row {
  /**
   * @param {string} name
   * @param {TableHandlers} handlers
   */
  constructor(name, handlers) {
    this.name = name;
    this.busy = false;
    this.state = '';
    /** @type {number | null} */
    this.uptimeS = null;
    /** @type {number | null} */
    this.idleS = null;
    this.idleTicks = false;
    this.fetchedAt = 0;
    this.tr = el('tr');
    this.tr.dataset.instance = name;

    const nameCell = el('th', 'instance-name', name);
    nameCell.setAttribute('scope', 'row');
    this.badge = el('span', 'badge');
    // Shown while its process runs a template that `ten reload` has changed since it started.
    this.outdated = el('span', 'outdated-tag', 'outdated');
    this.outdated.title = 'runs the template from before the last reload; restart it to move it to the new one';
    this.outdated.hidden = true;
    const stateCell = el('td');
    stateCell.append(this.badge, ' ', this.outdated);
    this.health = el('td');
    this.port = el('td', 'num');
    this.uptime = el('td', 'num');
    this.idle = el('td', 'num');

    this.weightValue = el('span', 'weight-value');
    this.weightInput = /** @type {HTMLInputElement} */ (el('input', 'weight-input'));
    this.weightInput.type = 'text';
    this.weightInput.inputMode = 'numeric';
    this.weightInput.autocomplete = 'off';
    this.weightInput.placeholder = '0–100';
    this.weightInput.setAttribute('aria-label', `New weight for ${name} (0 to 100)`);
    const weightForm = el('form', 'weight-form');
    weightForm.setAttribute('novalidate', '');
    const setWeight = el('button', 'small secondary', 'Set');
    setWeight.setAttribute('aria-label', `Set weight of ${name}`);
    weightForm.append(this.weightValue, this.weightInput, setWeight);
    weightForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      handlers.onWeight(name, this.weightInput.value);
    });
    const weightCell = el('td');
    weightCell.append(weightForm);

    this.restarts = el('td', 'num');
    this.isolation = el('td');

    this.start = button('Start', `Start ${name}`, () => handlers.onAction(name, 'start'));
    this.stop = button('Stop', `Stop ${name}`, () => handlers.onAction(name, 'stop'));
    this.restart = button('Restart', `Restart ${name}`, () => handlers.onAction(name, 'restart'));
    this.logs = button('Logs', `Show logs of ${name}`, () => handlers.onSelect(name));
    this.logs.classList.add('secondary');
    const actionGroup = el('div', 'actions');
    actionGroup.setAttribute('role', 'group');
    actionGroup.setAttribute('aria-label', `Actions for ${name}`);
    actionGroup.append(this.start, this.stop, this.restart, this.logs);
    const actions = el('td');
    actions.append(actionGroup);

    this.tr.append(nameCell, stateCell, this.health, this.port, this.uptime, this.idle,
      weightCell, this.restarts, this.isolation, actions);
  }

  /**
   * @param {InstanceInfo} info
   * @param {boolean} selected
   */
  update(info, selected) {
    this.state = info.state;
    setText(this.badge, info.state);
    this.badge.className = `badge state-${info.state}`;
    this.outdated.hidden = !info.outdated;
    setText(this.health, info.health_check_status === null ? info.health : `${info.health} (${info.health_check_status})`);
    setText(this.port, formatPlain(info.port));
    this.uptimeS = info.uptime_s;
    // 0 may mean "has an open connection": do not count that up between refreshes.
    this.idleS = info.idle_s;
    this.idleTicks = info.idle_s !== null && info.idle_s > 0;
    this.fetchedAt = performance.now();
    this.tick();
    setText(this.weightValue, String(info.weight));
    setText(this.restarts, String(info.restarts));
    setText(this.isolation, info.isolation);
    this.tr.classList.toggle('selected', selected);
    this.logs.setAttribute('aria-pressed', String(selected));
    this.applyEnabled();
  }

  /** Counts uptime and idle time on between refreshes. */
  tick() {
    const elapsedS = (performance.now() - this.fetchedAt) / 1000;
    setText(this.uptime, formatDuration(this.uptimeS === null ? null : this.uptimeS + elapsedS));
    setText(this.idle, formatDuration(this.idleS === null ? null : this.idleTicks ? this.idleS + elapsedS : this.idleS));
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.busy = busy;
    this.tr.setAttribute('aria-busy', String(busy));
    this.applyEnabled();
  }

  applyEnabled() {
    setOff(this.start, this.busy || STARTED.has(this.state));
    setOff(this.stop, this.busy || this.state === 'stopped');
    setOff(this.restart, this.busy);
  }
}

/**
 * @param {HTMLElement} node
 * @param {string} text
 */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export class InstancesTable {
  /**
   * @param {HTMLElement} tbody
   * @param {HTMLElement} emptyNote
   * @param {TableHandlers} handlers
   */
  constructor(tbody, emptyNote, handlers) {
    this.tbody = tbody;
    this.emptyNote = emptyNote;
    this.handlers = handlers;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
  }

  /**
   * @param {InstanceInfo[]} instances
   * @param {string | null} selected
   */
  update(instances, selected) {
    const sorted = [...instances].sort((a, b) => a.instance.localeCompare(b.instance));
    const present = new Set(sorted.map((i) => i.instance));
    for (const [name, row] of this.rows) {
      if (!present.has(name)) {
        row.tr.remove();
        this.rows.delete(name);
      }
    }
    let previous = null;
    for (const info of sorted) {
      let row = this.rows.get(info.instance);
      if (row === undefined) {
        row = new Row(info.instance, this.handlers);
        this.rows.set(info.instance, row);
      }
      row.update(info, info.instance === selected);
      // Move a row only when it is out of place: moving a node would drop focus inside it.
      const expectedNext = previous === null ? this.tbody.firstChild : previous.nextSibling;
      if (expectedNext !== row.tr) this.tbody.insertBefore(row.tr, expectedNext);
      previous = row.tr;
    }
    this.emptyNote.hidden = sorted.length > 0;
  }

  /** Forgets every row (sign-out), so another token never sees the previous one's instances. */
  clear() {
    this.tbody.replaceChildren();
    this.rows.clear();
    this.emptyNote.hidden = true;
  }

  tick() {
    for (const row of this.rows.values()) row.tick();
  }

  /**
   * @param {string} instance
   * @param {boolean} busy
   */
  setBusy(instance, busy) {
    this.rows.get(instance)?.setBusy(busy);
  }

  /** @param {string} instance */
  clearWeightInput(instance) {
    const row = this.rows.get(instance);
    if (row !== undefined) row.weightInput.value = '';
  }
}
