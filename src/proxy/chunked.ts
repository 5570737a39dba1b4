/**
 * The one chunked-body decoder (RFC 9112 §7.1), used for request bodies from clients and response
 * bodies from instances. Strict: CRLF line ends only, hex sizes without sign or whitespace,
 * extensions skipped, trailers read and dropped (the proxy re-frames what it relays).
 * @module
 */

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
/** Longest size or trailer line accepted. */
const MAX_LINE_BYTES = 4096;

const enum ChunkPhase { Size, Data, DataCr, DataLf, Trailer }
const enum Ext { None, NameStart, Name, ValueStart, Value }
const enum Trailer { LineStart, Name, Value }

/** tchar of RFC 9110 §5.6.2, by byte. */
export const TCHAR = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  if (/[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(String.fromCharCode(c))) TCHAR[c] = 1;
}

/** Receives the decoded data slices (views of the input, valid until the call returns). */
export interface ChunkSink {
  onChunkData(data: Buffer): void;
}

export class ChunkedDecoder {
  private phase = ChunkPhase.Size;
  private remaining = 0;
  private lineBytes = 0;
  private size = 0;
  private digits = 0;
  /** Where in `;name=value` extensions the size line is (Ext.None: still in the digits). */
  private ext = Ext.None;
  private sawCr = false;
  /** Where in a `name: value` trailer line the decoder is. */
  private trailer = Trailer.LineStart;
  isDone = false;

  constructor(private readonly sink: ChunkSink) {}

  /**
   * Consumes buf[start, end). Returns the index where consumption stopped (just past the body
   * when isDone, else `end`), or -1 on malformed framing.
   */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && !this.isDone) {
      if (this.phase === ChunkPhase.Data) {
        const n = Math.min(this.remaining, end - i);
        this.sink.onChunkData(buf.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.phase = ChunkPhase.DataCr;
        continue;
      }
      const c = buf[i++]!;
      if (++this.lineBytes > MAX_LINE_BYTES) return -1;
      switch (this.phase) {
        case ChunkPhase.DataCr:
          if (c !== CR) return -1;
          this.phase = ChunkPhase.DataLf;
          break;
        case ChunkPhase.DataLf:
          if (c !== LF) return -1;
          this.startLine(ChunkPhase.Size);
          break;
        case ChunkPhase.Size:
          if (this.sawCr) {
            if (c !== LF || this.digits === 0 || this.ext === Ext.NameStart || this.ext === Ext.ValueStart) return -1;
            if (this.size === 0) this.startLine(ChunkPhase.Trailer);
            else {
              this.remaining = this.size;
              this.phase = ChunkPhase.Data;
            }
          } else if (c === CR) this.sawCr = true;
          else if (this.ext !== Ext.None || c === 59 /* ; */) {
            // Only `;token` or `;token=token` extensions, nothing another parser could read differently.
            if (!this.extensionByte(c)) return -1;
          } else {
            const v = hexValue(c);
            if (v < 0 || ++this.digits > 12) return -1;
            this.size = this.size * 16 + v;
          }
          break;
        case ChunkPhase.Trailer:
          if (this.sawCr) {
            if (c !== LF || this.trailer === Trailer.Name) return -1;
            if (this.trailer === Trailer.LineStart) this.isDone = true;
            else this.startLine(ChunkPhase.Trailer);
          } else if (c === CR) this.sawCr = true;
          else if (this.trailer === Trailer.Value) {
            if ((c < SP && c !== HTAB) || c === 127) return -1;
          } else if (c === 58 /* : */ && this.trailer === Trailer.Name) this.trailer = Trailer.Value;
          else if (TCHAR[c] === 1) this.trailer = Trailer.Name;
          else return -1;
          break;
      }
    }
    return i;
  }

  private startLine(phase: ChunkPhase): void {
    this.phase = phase;
    this.lineBytes = 0;
    this.size = 0;
    this.digits = 0;
    this.ext = Ext.None;
    this.sawCr = false;
    this.trailer = Trailer.LineStart;
  }

  private extensionByte(c: number): boolean {
    if (c === 59 /* ; */) {
      if (this.digits === 0 || this.ext === Ext.NameStart || this.ext === Ext.ValueStart) return false;
      this.ext = Ext.NameStart;
      return true;
    }
    if (c === 61 /* = */) {
      if (this.ext !== Ext.Name) return false;
      this.ext = Ext.ValueStart;
      return true;
    }
    if (TCHAR[c] !== 1) return false;
    if (this.ext === Ext.NameStart) this.ext = Ext.Name;
    else if (this.ext === Ext.ValueStart) this.ext = Ext.Value;
    return true;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
