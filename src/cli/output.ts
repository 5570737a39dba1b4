/**
 * Human output of the CLI: aligned tables, relative times (12s, 3m, 2h) and the live status line
 * drawn on a terminal.
 * @module
 */

/** Columns padded to the widest cell; the last column is not padded. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Seconds as `12s`, `3m`, `2h`, `4d`; null as `-`. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Elapsed ms as `0.4s`, `12.3s`, then like formatDuration. */
export function formatElapsed(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms / 1000);
}

/** `healthy`, or with the HTTP status of a failing health check: `unhealthy (500)`. */
export function formatHealth(info: { health: string; health_check_status: number | null }): string {
  return info.health_check_status === null ? info.health : `${info.health} (${info.health_check_status})`;
}

export function dash(value: number | string | null | undefined): string {
  return value === null || value === undefined ? '-' : String(value);
}

/** A one-line status that redraws itself on a terminal and prints each new line elsewhere. */
export class StatusLine {
  private last = '';
  private drawn = false;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };

  constructor(stream: NodeJS.WritableStream & { isTTY?: boolean }) {
    this.stream = stream;
  }

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** On a terminal: redraw. Elsewhere: print `plain` when it changes (omit it to print nothing). */
  update(live: string, plain?: string): void {
    if (this.isTTY) {
      this.stream.write(`\r\x1b[2K${live}`);
      this.drawn = true;
      return;
    }
    if (plain !== undefined && plain !== this.last) {
      this.last = plain;
      this.stream.write(`${plain}\n`);
    }
  }

  /** Erases the live line so final output starts on a clean line. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
