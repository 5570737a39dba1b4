// The log panel: the last lines of one instance from /api/logs, each as DOM nodes (never HTML),
// stderr and tenement's own event lines marked in words as well as colour.
import { formatClock } from './format.js';

/** @typedef {{ seq: number, time: string, stream: 'stdout' | 'stderr' | 'event', line: string }} LogLine */

export class LogPanel {
  /**
   * @param {{ section: HTMLElement, title: HTMLElement, list: HTMLElement, empty: HTMLElement }} nodes
   */
  constructor(nodes) {
    this.nodes = nodes;
    /** @type {string | null} */
    this.instance = null;
    this.lastSeq = -1;
  }

  /** @param {string} instance */
  open(instance) {
    if (this.instance !== instance) {
      this.nodes.list.replaceChildren();
      this.lastSeq = -1;
    }
    this.instance = instance;
    this.nodes.title.textContent = `Logs of ${instance}`;
    this.nodes.section.hidden = false;
  }

  close() {
    this.instance = null;
    this.nodes.section.hidden = true;
    this.nodes.list.replaceChildren();
  }

  /**
   * Shows `lines` (oldest first). Redraws only when something new arrived, and keeps the view at
   * the bottom if it was there, so reading older lines is not interrupted.
   * @param {LogLine[]} lines
   */
  show(lines) {
    const newest = lines.length === 0 ? -1 : lines[lines.length - 1].seq;
    this.nodes.empty.hidden = lines.length > 0;
    if (newest === this.lastSeq && this.nodes.list.childElementCount === lines.length) return;
    this.lastSeq = newest;
    const list = this.nodes.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
    list.replaceChildren(...lines.map(lineNode));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}

/** @param {LogLine} l */
function lineNode(l) {
  const li = document.createElement('li');
  li.className = `log-line ${l.stream}`;
  const time = document.createElement('time');
  time.dateTime = l.time;
  time.className = 'log-time';
  time.textContent = formatClock(l.time);
  const tag = document.createElement('span');
  tag.className = `tag ${l.stream}`;
  tag.textContent = l.stream === 'stdout' ? 'out' : l.stream;
  const text = document.createElement('span');
  text.className = 'log-text';
  text.textContent = l.line;
  li.append(time, tag, text);
  return li;
}
