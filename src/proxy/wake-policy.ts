/**
 * What a request to a sleeping instance gets, beyond "wake it and wait" (docs/configuration.md,
 * wake tiers): requests matching `idle_ignore` (probes, crawlers) neither wake an instance nor
 * keep it awake, and a browser navigation that waited `wake_page_after` for a slow start gets a
 * small self-refreshing waiting page instead of a spinner. Pure decisions plus prebuilt answers;
 * the per-request cost is nothing unless the service sets idle_ignore.
 * @module
 */
import type { ServiceConfig } from '../config/types.js';
import { matchesPathPrefix } from '../core/management-paths.js';
import type { ResponseHead } from './response-head.js';

/** An answer the proxy gives itself: head and whole body. */
export interface LocalAnswer {
  readonly head: ResponseHead;
  readonly body: Buffer;
}

/** Seconds a probe that found the instance asleep is told to wait before asking again. */
const SLEEPING_RETRY_AFTER_S = 60;
/** Seconds before the waiting page reloads itself (and Retry-After for other clients). */
const PAGE_REFRESH_S = 1;

/**
 * True for a request `idle_ignore` names: its path starts with one of the listed paths (as a
 * whole segment: "/health" matches "/health", "/health/db", "/health?x", not "/healthy") or its
 * User-Agent contains one of the listed words (any case). `headers` is the flat [name, value] list.
 */
export function isIdleIgnored(config: ServiceConfig, url: string, headers: readonly string[]): boolean {
  const { paths, agents } = config.idleIgnore;
  for (const prefix of paths) if (matchesPathPrefix(url, prefix)) return true;
  if (agents.length === 0) return false;
  const agent = headerValue(headers, 'user-agent');
  if (agent === undefined) return false;
  const lower = agent.toLowerCase();
  for (const word of agents) if (lower.includes(word)) return true;
  return false;
}

/** A browser loading a page: GET or HEAD whose Accept lists text/html. */
export function isBrowserNavigation(method: string, headers: readonly string[]): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  return headerValue(headers, 'accept')?.toLowerCase().includes('text/html') === true;
}

/** 503 + Retry-After for an ignored request while its instance sleeps. */
export function sleepingAnswer(): LocalAnswer {
  return textAnswer('service unavailable: asleep\n', SLEEPING_RETRY_AFTER_S);
}

/** The waiting page for `instance`, whose wake began `elapsedMs` ago. */
export function wakePageAnswer(config: ServiceConfig, instance: string, elapsedMs: number): LocalAnswer {
  const values: Record<string, string> = {
    instance: escapeHtml(instance),
    elapsed: (Math.max(0, elapsedMs) / 1000).toFixed(1),
    retry_after: String(PAGE_REFRESH_S),
  };
  const html = (config.wakePage ?? DEFAULT_PAGE).replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
  const body = Buffer.from(html);
  return {
    head: {
      status: 503,
      statusText: '',
      headers: [
        'content-type', 'text/html; charset=utf-8',
        'content-length', String(body.length),
        'cache-control', 'no-store',
        'retry-after', String(PAGE_REFRESH_S),
        // The page is ours, not the tenant's: it loads nothing and may not be framed.
        'content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        'x-frame-options', 'DENY',
      ],
      contentLength: body.length,
      isChunked: false,
      isKeepAlive: true,
      upgrade: undefined,
    },
    body,
  };
}

function textAnswer(text: string, retryAfterS: number): LocalAnswer {
  const body = Buffer.from(text);
  return {
    head: {
      status: 503,
      statusText: '',
      headers: ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), 'cache-control', 'no-store', 'retry-after', String(retryAfterS)],
      contentLength: body.length,
      isChunked: false,
      isKeepAlive: true,
      upgrade: undefined,
    },
    body,
  };
}

function headerValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const DEFAULT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{retry_after}}">
<title>Starting {{instance}}…</title>
<style>
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; font: 16px/1.5 system-ui, sans-serif; background: #f6f7f9; color: #1d2330; }
  main { text-align: center; padding: 2rem; }
  .dot { display: inline-block; width: .6rem; height: .6rem; margin: 0 .2rem; border-radius: 50%; background: #3b6ef5; animation: pulse 1s infinite alternate; }
  .dot:nth-child(2) { animation-delay: .33s; } .dot:nth-child(3) { animation-delay: .66s; }
  @keyframes pulse { from { opacity: .2; } to { opacity: 1; } }
  small { color: #687085; }
  @media (prefers-color-scheme: dark) { body { background: #14171f; color: #e6e9ef; } small { color: #98a0b3; } }
</style>
</head>
<body>
<main>
<p><span class="dot"></span><span class="dot"></span><span class="dot"></span></p>
<h1>Starting {{instance}}</h1>
<p>It was asleep and is waking up ({{elapsed}} s so far). This page reloads by itself.</p>
<small>tenement</small>
</main>
</body>
</html>
`;
