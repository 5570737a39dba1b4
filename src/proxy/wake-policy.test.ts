// Which requests idle_ignore names, which are browser navigations, and what the waiting page says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { isBrowserNavigation, isIdleIgnored, wakePageAnswer } from './wake-policy.js';

const service = parseConfig('[service.api]\ncommand = "x"\nidle_ignore = ["/health", "/probe/", "UptimeRobot", "Googlebot"]\n', '/srv/tenement.toml').services.api!;
const plain = parseConfig('[service.api]\ncommand = "x"\n', '/srv/tenement.toml').services.api!;

const pathCases: Array<[string, boolean]> = [
  ['/health', true], ['/health/db', true], ['/health?full=1', true], ['/healthy', false], ['/api/health', false],
  ['/probe/x', true], ['/probe', false], ['/', false],
];
for (const [url, ignored] of pathCases) {
  test(`idle_ignore "/health", "/probe/": ${url} is ${ignored ? '' : 'not '}ignored`, () => {
    assert.equal(isIdleIgnored(service, url, ['Host', 'a.api.localhost']), ignored);
  });
}

test('User-Agent words match anywhere in the header, in any case; other headers do not count', () => {
  assert.equal(isIdleIgnored(service, '/', ['User-Agent', 'Mozilla/5.0+(compatible; UptimeRobot/2.0)']), true);
  assert.equal(isIdleIgnored(service, '/', ['user-agent', 'Mozilla/5.0 (compatible; googlebot/2.1)']), true);
  assert.equal(isIdleIgnored(service, '/', ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0']), false);
  assert.equal(isIdleIgnored(service, '/', ['Referer', 'https://uptimerobot.com/']), false);
  assert.equal(isIdleIgnored(plain, '/health', ['User-Agent', 'UptimeRobot']), false, 'nothing is ignored without idle_ignore');
});

test('a browser navigation is a GET or HEAD that accepts text/html', () => {
  const accept = ['Accept', 'text/html,application/xhtml+xml,*/*;q=0.8'];
  assert.equal(isBrowserNavigation('GET', accept), true);
  assert.equal(isBrowserNavigation('HEAD', accept), true);
  assert.equal(isBrowserNavigation('POST', accept), false);
  assert.equal(isBrowserNavigation('GET', ['Accept', 'application/json']), false);
  assert.equal(isBrowserNavigation('GET', []), false);
});

test('the built-in waiting page names the instance, the time so far, reloads itself and loads nothing', () => {
  const { head, body } = wakePageAnswer(plain, 'api:alice', 1234);
  const html = body.toString();
  assert.equal(head.status, 503);
  assert.equal(head.contentLength, body.length);
  const headers = new Map<string, string>();
  for (let i = 0; i < head.headers.length; i += 2) headers.set(head.headers[i]!, head.headers[i + 1]!);
  assert.equal(headers.get('retry-after'), '1');
  assert.equal(headers.get('content-length'), String(body.length));
  assert.match(headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(html, /<meta http-equiv="refresh" content="1">/);
  assert.match(html, /Starting api:alice/);
  assert.match(html, /\(1\.2 s so far\)/);
  assert.doesNotMatch(html, /\{\{|(src|href)\s*=|url\(/);
});
