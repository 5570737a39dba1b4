/**
 * Serves the dashboard's static files. The folder is listed once at startup; a request can only
 * pick one of those names, so no path from a request ever reaches the filesystem.
 * @module
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Logger } from 'pino';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface DashboardFile {
  readonly content: Buffer;
  readonly contentType: string;
}

export class DashboardFiles {
  /** URL path (`/app.js`, `/assets/x.css`) → absolute file. */
  private readonly files = new Map<string, string>();

  constructor(dir: string, logger: Logger) {
    try {
      this.scan(dir, '', 0);
    } catch (err) {
      logger.warn({ code: (err as NodeJS.ErrnoException).code }, 'dashboard folder not readable; serving no dashboard');
    }
  }

  async read(urlPath: string): Promise<DashboardFile | undefined> {
    const file = this.files.get(urlPath === '/' ? '/index.html' : urlPath);
    if (file === undefined) return undefined;
    const content = await readFile(file);
    return { content, contentType: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' };
  }

  private scan(dir: string, prefix: string, depth: number): void {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory() && depth < 2) this.scan(join(dir, entry.name), `${prefix}/${entry.name}`, depth + 1);
      else if (entry.isFile() && !entry.name.endsWith('.test.ts')) this.files.set(`${prefix}/${entry.name}`, join(dir, entry.name));
    }
  }
}
