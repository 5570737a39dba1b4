// The README and docs/ stand alone: every link points to a file of this repository (and, with a
// #fragment, to a heading that exists), never outside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../helpers/daemon.js';

const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    found.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return found;
}

test('every link in the README and docs/ stays inside the repository and finds its target', () => {
  const problems: string[] = [];
  for (const page of PAGES) {
    // Code blocks and spans hold no links (and regular expressions that look like them).
    const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const [path, fragment] = target!.split('#');
      if (/^[a-z]+:/i.test(target!)) {
        problems.push(`${page}: ${target} leaves the repository`);
        continue;
      }
      const file = path === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), path!);
      if (relative(ROOT, file).startsWith('..')) problems.push(`${page}: ${target} points outside the repository`);
      else if (!existsSync(file)) problems.push(`${page}: ${target} does not exist`);
      else if (fragment !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(fragment)) {
        problems.push(`${page}: no heading for #${fragment} in ${relative(ROOT, file)}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
