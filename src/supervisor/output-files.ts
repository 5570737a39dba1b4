/**
 * Instance output that outlives the server. Each process writes its stdout and stderr to two files,
 * `{data_dir}/.output/{service}.{id}.stdout|stderr`, opened for append: a write never blocks and
 * never raises SIGPIPE, whether a server is reading or not. The server tails them (woken by one
 * inotify watch on the folder, with a slow poll as a safety net) from an offset it records in the
 * store once the lines before it are committed, so the next server continues where this one
 * stopped. Consumed bytes are freed by punching a hole (the file stays sparse), so a file's disk
 * use stays bounded while its offsets keep growing.
 * @module
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { OutputStream } from '../runtime/runtime.js';

export interface OutputOffsets {
  readonly stdout: number;
  readonly stderr: number;
}

/** Read at most this much per read call. */
const CHUNK_BYTES = 64 * 1024;
/** A line longer than this without a newline is handed on in pieces. */
const MAX_PENDING_BYTES = 64 * 1024;
/** Free the consumed part of a file once this much has been read since the last time. */
const PUNCH_EVERY_BYTES = 4 * 1024 * 1024;
/** The safety-net poll, for writes whose inotify event was missed or coalesced away. */
const POLL_MS = 1000;
/** Chunks read per turn of the event loop; more waits for the next turn, so a flood can't block it. */
const CHUNKS_PER_TURN = 4;
/**
 * Unread output beyond this is skipped (and said so): a tenant writing faster than the server can
 * read must not grow its file without bound. The log capture's rate limit drops far earlier.
 */
const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;

/** One output file being read from an offset. */
class Tail {
  /** Bytes of complete lines handed on: where the next server continues. */
  consumed: number;
  private readonly fd: number;
  private readonly path: string;
  private readonly stream: OutputStream;
  private readonly onLine: (stream: OutputStream, line: string) => void;
  private pending: Buffer = Buffer.alloc(0);
  private punchedUpTo = 0;
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  /** A drain continued on the next turn of the event loop. */
  private again: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(path: string, stream: OutputStream, offset: number, onLine: (stream: OutputStream, line: string) => void) {
    this.path = path;
    this.stream = stream;
    this.consumed = offset;
    this.onLine = onLine;
    this.fd = openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o600);
  }

  /** Reads what was appended and hands on every complete line. Synchronous: reads are of a local file. */
  drain(): void {
    if (this.closed) return;
    let position = this.consumed + this.pending.length;
    const backlog = fstatSync(this.fd).size - position;
    if (backlog > MAX_BACKLOG_BYTES) {
      position += backlog;
      this.consumed = position;
      this.pending = Buffer.alloc(0);
      this.onLine(this.stream, `[tenement] ${backlog} bytes of output skipped: written faster than they could be read`);
    }
    for (let chunk = 0; ; chunk++) {
      if (chunk === CHUNKS_PER_TURN) {
        this.again ??= setImmediate(() => {
          this.again = undefined;
          this.drain();
        });
        break;
      }
      const n = readSync(this.fd, this.buffer, 0, CHUNK_BYTES, position);
      if (n === 0) break;
      position += n;
      this.take(this.buffer.subarray(0, n));
    }
    if (this.consumed - this.punchedUpTo >= PUNCH_EVERY_BYTES) this.punch();
  }

  /** Last read; a final line without a newline is handed on too when the process is gone. */
  close(processGone: boolean): void {
    // Everything there is, at once (the writer is gone or the server is leaving); at most a full
    // backlog's worth, should a running writer keep up with us.
    for (let turn = 0; this.again !== undefined && turn <= MAX_BACKLOG_BYTES / (CHUNK_BYTES * CHUNKS_PER_TURN); turn++) {
      clearImmediate(this.again);
      this.again = undefined;
      this.drain();
    }
    this.drain();
    if (processGone && this.pending.length > 0) {
      this.consumed += this.pending.length;
      this.onLine(this.stream, this.pending.toString('utf8'));
      this.pending = Buffer.alloc(0);
    }
    clearImmediate(this.again);
    this.closed = true;
    closeSync(this.fd);
  }

  private take(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let start = 0;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      this.onLine(this.stream, data.toString('utf8', start, nl));
      start = nl + 1;
    }
    this.consumed += start;
    data = data.subarray(start);
    if (data.length > MAX_PENDING_BYTES) {
      this.onLine(this.stream, data.toString('utf8'));
      this.consumed += data.length;
      data = data.subarray(data.length);
    }
    this.pending = Buffer.from(data);
  }

  private punch(): void {
    const upTo = Math.floor(this.consumed / 4096) * 4096;
    this.punchedUpTo = upTo;
    // util-linux fallocate; where it fails (a filesystem without hole punching) the file just grows.
    execFile('fallocate', ['--punch-hole', '--offset', '0', '--length', String(upTo), this.path], () => undefined);
  }
}

/** The two files of one instance's current process. */
export class InstanceOutput {
  private readonly tails: readonly [Tail, Tail];

  constructor(paths: { stdout: string; stderr: string }, offsets: OutputOffsets, onLine: (stream: OutputStream, line: string) => void) {
    this.tails = [new Tail(paths.stdout, 'stdout', offsets.stdout, onLine), new Tail(paths.stderr, 'stderr', offsets.stderr, onLine)];
  }

  get offsets(): OutputOffsets {
    return { stdout: this.tails[0].consumed, stderr: this.tails[1].consumed };
  }

  drain(): void {
    for (const tail of this.tails) tail.drain();
  }

  /** `processGone`: the writer exited, so a last line without a newline is complete too. */
  close(processGone: boolean): void {
    for (const tail of this.tails) tail.close(processGone);
  }
}

/** The `.output` folder: creates the files a process writes to, and wakes their tails. */
export class OutputDir {
  private readonly dir: string;
  private readonly open = new Map<string, InstanceOutput>();
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(dataDir: string) {
    this.dir = join(dataDir, '.output');
  }

  /**
   * Empty files for a new process: the fds to give it (close them once it is spawned) and the
   * tail that reads them from offset 0.
   */
  create(service: string, id: string, onLine: (stream: OutputStream, line: string) => void): { fds: { stdout: number; stderr: number }; output: InstanceOutput } {
    this.start();
    const paths = this.paths(service, id);
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_TRUNC;
    const fds = { stdout: openSync(paths.stdout, flags, 0o600), stderr: openSync(paths.stderr, flags, 0o600) };
    const output = new InstanceOutput(paths, { stdout: 0, stderr: 0 }, onLine);
    this.open.set(this.key(service, id), output);
    return { fds, output };
  }

  /** The tail of an adopted process's files, from where the previous server stopped. */
  resume(service: string, id: string, offsets: OutputOffsets, onLine: (stream: OutputStream, line: string) => void): InstanceOutput {
    this.start();
    const output = new InstanceOutput(this.paths(service, id), offsets, onLine);
    this.open.set(this.key(service, id), output);
    output.drain();
    return output;
  }

  /** Reads to the end the files of a process that is gone (nothing if they were read or never written). */
  salvage(service: string, id: string, offsets: OutputOffsets, onLine: (stream: OutputStream, line: string) => void): void {
    const paths = this.paths(service, id);
    if (!existsSync(paths.stdout) && !existsSync(paths.stderr)) return;
    new InstanceOutput(paths, offsets, onLine).close(true);
  }

  /** Stops waking this output (before its last read). */
  forget(service: string, id: string, output: InstanceOutput): void {
    const key = this.key(service, id);
    if (this.open.get(key) === output) this.open.delete(key);
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    this.watcher = undefined;
  }

  private start(): void {
    if (this.watcher !== undefined) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.watcher = watch(this.dir, (_event, file) => {
      if (file === null) return;
      const dot = file.lastIndexOf('.');
      this.open.get(file.slice(0, dot))?.drain();
    });
    this.watcher.on('error', () => undefined);
    this.poll = setInterval(() => {
      for (const output of this.open.values()) output.drain();
    }, POLL_MS);
    this.poll.unref();
  }

  private key(service: string, id: string): string {
    return `${service}.${id}`;
  }

  private paths(service: string, id: string): { stdout: string; stderr: string } {
    const base = join(this.dir, this.key(service, id));
    return { stdout: `${base}.stdout`, stderr: `${base}.stderr` };
  }
}

/** The output files of one instance's current process, if the server has an output folder. */
export class OutputSlot {
  private current: InstanceOutput | null = null;
  private readonly dir: OutputDir | undefined;
  private readonly service: string;
  private readonly id: string;
  private readonly onLine: (stream: OutputStream, line: string) => void;

  constructor(dir: OutputDir | undefined, service: string, id: string, onLine: (stream: OutputStream, line: string) => void) {
    this.dir = dir;
    this.service = service;
    this.id = id;
    this.onLine = onLine;
  }

  /** Fresh files for a new process: the fds to give it (the caller closes its copies), or undefined for pipes. */
  create(): { stdout: number; stderr: number } | undefined {
    if (this.dir === undefined) return undefined;
    const { fds, output } = this.dir.create(this.service, this.id, this.onLine);
    this.current = output;
    return fds;
  }

  /** An adopted process's files, read on from `offsets`. */
  resume(offsets: OutputOffsets): void {
    this.current = this.dir?.resume(this.service, this.id, offsets, this.onLine) ?? null;
  }

  get offsets(): OutputOffsets | undefined {
    return this.current?.offsets;
  }

  /** Last read (see InstanceOutput.close); returns where reading stopped. */
  close(processGone: boolean): OutputOffsets | undefined {
    const output = this.current;
    if (output === null) return undefined;
    this.current = null;
    this.dir?.forget(this.service, this.id, output);
    output.close(processGone);
    return output.offsets;
  }
}
