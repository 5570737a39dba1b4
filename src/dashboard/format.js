// How the dashboard writes numbers, durations and times: short, and "–" for "none".

export const NONE = '–';

/** @param {number | null | undefined} seconds */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NONE;
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** @param {number | null | undefined} ms */
export function formatLatency(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** @param {number | null | undefined} n */
export function formatCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  return n.toLocaleString('en');
}

/** @param {number | null | undefined} n */
export function formatPlain(n) {
  return n === null || n === undefined ? NONE : String(n);
}

/**
 * Local wall-clock time of an ISO timestamp, to the millisecond (log lines).
 * @param {string} iso
 */
export function formatClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** @param {number} n */
function pad(n) {
  return String(n).padStart(2, '0');
}
