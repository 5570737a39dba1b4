/**
 * The per-address budget for new `auto_spawn` registrations (`[settings] auto_spawn_per_minute`):
 * without it one client could register `max_instances` permanent instances by inventing
 * subdomains. Fixed one-minute windows per client address; IPv6 clients count per /64, the block
 * one client usually holds whole. Memory is bounded. Only requests that would register a new
 * instance come here, never traffic to registered ones.
 * @module
 */

export interface AutoSpawnLimits {
  /** New registrations per address per window; 0 = no limit. */
  readonly perWindow: number;
  readonly windowMs: number;
  /** Addresses remembered at once; when all are in their window, new addresses are refused. */
  readonly maxAddresses: number;
}

export const AUTO_SPAWN_WINDOW_MS = 60_000;
/** `Retry-After` of a refused registration: by then a new window has begun. */
export const AUTO_SPAWN_RETRY_AFTER_S = AUTO_SPAWN_WINDOW_MS / 1000;

interface Window {
  readonly startedAt: number;
  count: number;
}

export class AutoSpawnLimiter {
  private readonly limits: AutoSpawnLimits;
  private readonly windows = new Map<string, Window>();

  constructor(perMinute: number, limits: Partial<AutoSpawnLimits> = {}) {
    this.limits = { perWindow: perMinute, windowMs: AUTO_SPAWN_WINDOW_MS, maxAddresses: 10_000, ...limits };
  }

  /** True (and counted) if `address` may register one more instance now. */
  take(address: string, now = Date.now()): boolean {
    const { perWindow, windowMs } = this.limits;
    if (perWindow === 0) return true;
    const key = addressKey(address);
    let window = this.windows.get(key);
    if (window === undefined || now - window.startedAt >= windowMs) {
      if (window !== undefined) this.windows.delete(key);
      if (this.windows.size >= this.limits.maxAddresses && !this.forgetExpired(now)) return false;
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= perWindow) return false;
    window.count++;
    return true;
  }

  /** Drops windows that are over; true if that made room. Oldest first (Map order is insertion). */
  private forgetExpired(now: number): boolean {
    for (const [key, window] of this.windows) {
      if (now - window.startedAt < this.limits.windowMs) break;
      this.windows.delete(key);
    }
    return this.windows.size < this.limits.maxAddresses;
  }
}

/** The unit a budget belongs to: an IPv4 address, or the /64 of an IPv6 one. */
export function addressKey(address: string): string {
  const bare = address.split('%')[0]!;
  if (!bare.includes(':')) return bare;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare)) return bare.slice(7);
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}
