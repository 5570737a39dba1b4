/**
 * The bytes of a message head that arrives in pieces (a slow client, a dripping instance), held
 * so that each piece is copied once and searched once: a head of n bytes costs O(n), whatever
 * the number of pieces. A head that arrives whole stays a view of its input, uncopied.
 * @module
 */

export class HeadBytes {
  /** Owned storage while a head grows over several pieces. */
  private store: Buffer | null = null;
  /** The bytes held, or null. */
  view: Buffer | null = null;
  /** Bytes at the start of `view` already searched for the head's end. */
  scanned = 0;

  get length(): number {
    return this.view === null ? 0 : this.view.length;
  }

  append(chunk: Buffer): Buffer {
    const old = this.view;
    if (old === null) {
      this.view = chunk;
      return chunk;
    }
    const length = old.length + chunk.length;
    let store = this.store;
    // The store is reused only while `view` is its own prefix; anything handed out is a later slice.
    if (store === null || old.buffer !== store.buffer || old.byteOffset !== store.byteOffset || length > store.length) {
      store = Buffer.allocUnsafe(Math.max(length * 2, 1024));
      old.copy(store, 0);
      this.store = store;
    }
    chunk.copy(store, old.length);
    this.view = store.subarray(0, length);
    return this.view;
  }

  /** Keeps only `rest` (what follows a consumed head, or null), searched from its start again. */
  reset(rest: Buffer | null): void {
    this.view = rest !== null && rest.length > 0 ? rest : null;
    this.scanned = 0;
    this.store = null;
  }
}
