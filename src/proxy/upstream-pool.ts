/**
 * The keep-alive connection pool to one instance process (one port). No per-request timers: one
 * sweep per pool enforces the response-head timeout and retires idle connections.
 * @module
 */
import { UpstreamConnection } from './upstream.js';
import type { ConnectionOwner, UpstreamRequest, UpstreamSink } from './upstream.js';

/**
 * Idle connections are reused for this long, then retired: below Node's default 5 s server
 * keep-alive, and long enough to outlast a freeze and thaw. One an instance closed while idle has
 * left the pool by the time it is picked (its FIN was read). A request written in the very instant
 * the instance closes it is resent if the instance resets it unread, else answered 502 (upstream.ts).
 */
const IDLE_TTL_MS = 4000;
const SWEEP_MS = 250;

/** The connections to one instance process (one port). */
export class UpstreamPool implements ConnectionOwner {
  private readonly idle: UpstreamConnection[] = [];
  private readonly busy = new Set<UpstreamConnection>();
  private sweeper: NodeJS.Timeout | null = null;
  private isClosed = false;

  constructor(
    readonly port: number,
    private readonly headTimeoutMs: number,
    /** Where a contained proxy bug is reported. */
    readonly reportError: (err: unknown) => void,
  ) {}

  /** Sends a request on a recently used idle connection, or a new one (always new for an upgrade). */
  request(request: UpstreamRequest, sink: UpstreamSink): UpstreamConnection {
    let conn: UpstreamConnection | undefined;
    if (!request.isUpgrade) {
      // Most recently released first: the warmest connection, the least likely to be timed out.
      conn = this.idle.pop();
      if (conn !== undefined && (!conn.isOpen || Date.now() - conn.idleSince > IDLE_TTL_MS)) {
        conn.abort();
        // The rest are older still.
        for (const old of this.idle.splice(0)) old.abort();
        conn = undefined;
      }
    }
    conn ??= new UpstreamConnection(this, this.port);
    this.busy.add(conn);
    if (this.sweeper === null && !this.isClosed) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
    conn.send(request, sink);
    return conn;
  }

  /** @internal a finished keep-alive connection comes back. */
  release(conn: UpstreamConnection): void {
    this.busy.delete(conn);
    if (this.isClosed) {
      conn.abort();
      return;
    }
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  /** @internal a connection closed, failed or switched protocols. */
  forget(conn: UpstreamConnection): void {
    this.busy.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private sweep(): void {
    if (this.busy.size === 0 && this.idle.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      return;
    }
    const now = Date.now();
    for (const conn of this.busy) {
      if (conn.isWaitingForHead && now - conn.sentAt > this.headTimeoutMs) conn.timeOut();
    }
    // Oldest first: the front of the idle list has waited longest.
    while (this.idle.length > 0 && now - this.idle[0]!.idleSince > IDLE_TTL_MS) this.idle.shift()!.abort();
  }

  /** No new requests; idle connections close now, busy ones when their answer ends. */
  close(): void {
    this.isClosed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const conn of this.idle.splice(0)) conn.abort();
    // Busy connections still get their head timeouts.
    if (this.busy.size > 0) {
      const sweeper = setInterval(() => {
        this.sweep();
        if (this.busy.size === 0) clearInterval(sweeper);
      }, SWEEP_MS);
      sweeper.unref();
    }
  }
}
