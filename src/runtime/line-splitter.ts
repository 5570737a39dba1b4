/**
 * Turns a child's output chunks into complete lines: bytes are kept until a newline so UTF-8
 * split across chunks decodes whole, and an endless line is cut at MAX_LINE_BYTES.
 * @module
 */
import type { Readable } from 'node:stream';

export const MAX_LINE_BYTES = 16 * 1024;
export const TRUNCATION_MARKER = ' … [line truncated]';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class LineSplitter {
  readonly #onLine: (line: string) => void;
  #parts: Buffer[] = [];
  #partBytes = 0;
  /** The current line was already emitted truncated; its rest is dropped up to the newline. */
  #isDropping = false;

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.#isDropping) this.#append(chunk.subarray(start, end));
      if (newline === -1) return;
      if (this.#isDropping) this.#isDropping = false;
      else this.#emit(this.#takeLine());
      start = newline + 1;
    }
  }

  /** The output ended: a last line without a newline is still a line. */
  end(): void {
    if (!this.#isDropping && this.#partBytes > 0) this.#emit(this.#takeLine());
    this.#isDropping = false;
  }

  #append(piece: Buffer): void {
    if (piece.length === 0) return;
    const room = MAX_LINE_BYTES - this.#partBytes;
    if (piece.length <= room) {
      this.#parts.push(piece);
      this.#partBytes += piece.length;
      return;
    }
    // One byte past the limit is enough to see whether the cut falls inside a character; the
    // next three cover the rest of it.
    const head = piece.subarray(0, room + 4);
    this.#parts.push(head);
    this.#partBytes += head.length;
    const line = this.#takeLine();
    // Back off over at most 3 continuation bytes (10xxxxxx): never split a character, and
    // binary garbage still keeps its first 16 KiB.
    let cut = MAX_LINE_BYTES;
    while (cut > MAX_LINE_BYTES - 3 && ((line[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
    this.#onLine(line.toString('utf8', 0, cut) + TRUNCATION_MARKER);
    this.#isDropping = true;
  }

  #takeLine(): Buffer {
    const line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partBytes);
    this.#parts = [];
    this.#partBytes = 0;
    return line;
  }

  #emit(line: Buffer): void {
    const end = line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.length - 1 : line.length;
    this.#onLine(line.toString('utf8', 0, end));
  }
}

/**
 * Most lines per second read from one output stream. Past it the pipe is left unread until the
 * next 100 ms window, so a flooding instance blocks in its own write() instead of costing the
 * server CPU (the log capture still samples what is read, with a drop marker).
 */
export const MAX_LINES_PER_SECOND = 20_000;
const WINDOW_MS = 100;
const MAX_LINES_PER_WINDOW = (MAX_LINES_PER_SECOND * WINDOW_MS) / 1000;

/**
 * Feeds every line of `stream` to `onLine`, at most MAX_LINES_PER_SECOND; resolves once the stream
 * has closed (ended, failed or been destroyed) and its last partial line was flushed.
 */
export function readLines(stream: Readable, onLine: (line: string) => void): Promise<void> {
  let windowStart = 0;
  let linesInWindow = 0;
  let resumeTimer: NodeJS.Timeout | undefined;
  const splitter = new LineSplitter((line) => {
    linesInWindow++;
    onLine(line);
  });
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      const now = Date.now();
      if (now - windowStart >= WINDOW_MS) {
        windowStart = now;
        linesInWindow = 0;
      }
      splitter.push(chunk);
      if (linesInWindow >= MAX_LINES_PER_WINDOW && resumeTimer === undefined) {
        stream.pause();
        resumeTimer = setTimeout(() => {
          resumeTimer = undefined;
          stream.resume();
        }, WINDOW_MS - (now - windowStart));
      }
    });
    // A read error (EIO, a destroyed pipe) only ends the output; 'close' follows it.
    stream.on('error', () => undefined);
    stream.once('close', () => {
      clearTimeout(resumeTimer);
      splitter.end();
      resolve();
    });
  });
}
