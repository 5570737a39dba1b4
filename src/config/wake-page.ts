/**
 * A service's own waiting page (`wake_page`): read once at config load and checked, so a typo in
 * a placeholder stops `ten serve` instead of showing `{{instnace}}` to a visitor.
 * @module
 */
import { readFileSync } from 'node:fs';

/** What a waiting page template may use; filled in by the proxy (HTML-escaped). */
export const WAKE_PAGE_PLACEHOLDERS = ['instance', 'elapsed', 'retry_after'] as const;

const MAX_BYTES = 64 * 1024;
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The template's text; throws an Error whose message says what is wrong (no path in it). */
export function readWakePage(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`);
  }
  if (Buffer.byteLength(text) > MAX_BYTES) throw new Error(`is larger than ${MAX_BYTES / 1024} KiB`);
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!(WAKE_PAGE_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new Error(`unknown placeholder {{${name}}} (use ${WAKE_PAGE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`);
    }
  }
  return text;
}
