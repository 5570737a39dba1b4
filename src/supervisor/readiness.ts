/**
 * Is the instance answering? One TCP or HTTP probe (`probeOnce`), and the start-up wait
 * (`ReadinessWaiter`) that repeats it until the first success.
 *
 * Readiness must be seen within a few ms of the app listening (wake-on-request latency), yet a 1 ms
 * connect loop steals CPU from the very app that is starting. So the waiter probes on a gentle
 * schedule AND at once whenever the app prints a line: nearly every server logs right after it
 * starts listening, which makes its own output the cheapest readiness signal there is.
 * @module
 */
import { connect } from 'node:net';
import { request } from 'node:http';

const HOST = '127.0.0.1';
/** Poll schedule (ms between probes): quick at first, then settles. */
const POLL_STEPS_MS = [5, 5, 10, 10, 10, 15, 20, 25];

/** One probe: ok, or not, with the HTTP status when the app answered (null: no answer, or TCP). */
export interface ProbeResult {
  readonly ok: boolean;
  readonly status: number | null;
}

const NO_ANSWER: ProbeResult = { ok: false, status: null };
const CONNECTED: ProbeResult = { ok: true, status: null };

/** Where the status of a failing health check is kept, to show why an instance is not healthy. */
export interface ProbeRecord {
  /** HTTP status of the last health check answered with an error, until one passes; else null. */
  failedCheckStatus: number | null;
}

/** Ok on a TCP connect (no health path) or a 2xx/3xx answer to GET healthPath; noted in `record`. */
export async function probeOnce(port: number, healthPath: string | undefined, timeoutMs: number, record?: ProbeRecord): Promise<ProbeResult> {
  const result = await (healthPath === undefined ? probeTcp(port, timeoutMs) : probeHttp(port, healthPath, timeoutMs));
  if (record !== undefined) {
    if (result.ok) record.failedCheckStatus = null;
    else if (result.status !== null) record.failedCheckStatus = result.status;
  }
  return result;
}

function probeTcp(port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      clearTimeout(timer);
      resolve(ok ? CONNECTED : NO_ANSWER);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function probeHttp(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'tenement-health' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve({ ok: status >= 200 && status < 400, status });
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(NO_ANSWER));
    req.end();
  });
}

export class ReadinessWaiter {
  private readonly port: number;
  private readonly healthPath: string | undefined;
  private readonly record: ProbeRecord | undefined;
  private probing = false;
  private again = false;
  private settled = false;
  private step = 0;
  private timer: NodeJS.Timeout | undefined;
  private resolveReady!: () => void;
  /** Resolves on the first successful probe; never rejects (the caller races it with exit/timeout). */
  readonly ready: Promise<void>;

  /** `record` keeps a failing probe's status (the instance shows it while starting); reset here. */
  constructor(port: number, healthPath: string | undefined, record?: ProbeRecord) {
    this.port = port;
    this.healthPath = healthPath;
    this.record = record;
    if (record !== undefined) record.failedCheckStatus = null;
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    this.schedule();
  }

  /** The app printed something: probe now (coalesced with a probe already in flight). */
  poke(): void {
    if (this.settled) return;
    if (this.probing) {
      this.again = true;
      return;
    }
    void this.probe();
  }

  cancel(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    const delay = POLL_STEPS_MS[Math.min(this.step, POLL_STEPS_MS.length - 1)]!;
    this.step++;
    this.timer = setTimeout(() => this.poke(), delay);
  }

  private async probe(): Promise<void> {
    this.probing = true;
    clearTimeout(this.timer);
    const result = await probeOnce(this.port, this.healthPath, 1000, this.record);
    this.probing = false;
    if (this.settled) return;
    if (result.ok) {
      this.settled = true;
      this.resolveReady();
      return;
    }
    if (this.again) {
      this.again = false;
      void this.probe();
      return;
    }
    this.schedule();
  }
}
