// The shape of src/, read from the sources themselves: no import circle between files or between
// folders (layers), no source file too long to read in one go, and no lifecycle rule written
// outside core/lifecycle.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Every non-test source file of src/ with one of these endings, relative to it. */
function sourceFiles(endings: readonly string[] = ['.ts']): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => endings.some((e) => f.endsWith(e)) && !f.endsWith('.test.ts'))
    .sort();
}

const MAX_CODE_LINES = 400;
const STATES = 'starting|running|degraded|unhealthy|failed|idle|stopped|held';
/** An instance state compared by hand: `x.state === 'idle'`, `'held' !== state`, `case 'running':`. */
const INLINE_STATE_RULE = new RegExp(`\\bstate\\s*[!=]==?\\s*'(${STATES})'|'(${STATES})'\\s*[!=]==?\\s*[\\w.]*\\bstate\\b|case '(${STATES})':`);

/** Lines that are neither blank nor only a comment. */
function codeLines(text: string): number {
  let n = 0;
  let inBlock = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes('*/')) inBlock = false;
      continue;
    }
    if (line === '' || line.startsWith('//')) continue;
    if (line.startsWith('/*')) {
      inBlock = !line.includes('*/');
      continue;
    }
    n++;
  }
  return n;
}

/** file → the src files it imports (static, type-only, re-exports and literal dynamic imports). */
function importGraph(): Map<string, string[]> {
  const files = new Set(sourceFiles());
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(SRC, file), 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(SRC, resolve(SRC, dirname(file), spec)).replace(/\.js$/, '.ts'))
      .filter((target) => files.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The circles of a graph: its strongly connected components with more than one node (Tarjan). */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The layer a file belongs to: its first folder under src/, or the file itself at the top. */
function layerOf(file: string): string {
  const slash = file.indexOf('/');
  return slash < 0 ? file : file.slice(0, slash);
}

test('the circle finder finds a circle and passes a chain', () => {
  assert.deepEqual(circles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  assert.deepEqual(circles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
});

test('no import circle between files of src/', () => {
  const graph = importGraph();
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  assert.ok((graph.get('serve.ts') ?? []).includes('supervisor/supervisor.ts'), 'the graph sees imports');
  assert.deepEqual(circles(graph), []);
});

test('no import circle between the folders (layers) of src/', () => {
  const layers = new Map<string, string[]>();
  for (const [file, targets] of importGraph()) {
    const from = layerOf(file);
    const edges = layers.get(from) ?? [];
    for (const target of targets) {
      const to = layerOf(target);
      if (to !== from && !edges.includes(to)) edges.push(to);
    }
    layers.set(from, edges);
  }
  assert.deepEqual(circles(layers), []);
});

test('the line counter counts code, not blank lines or comments', () => {
  assert.equal(codeLines('/**\n * doc\n */\nconst a = 1;\n\n// why\nfoo(a); // trailing\n/* one */\n'), 2);
});

test(`no source file in src/ has more than ${MAX_CODE_LINES} lines of code`, () => {
  const files = sourceFiles(['.ts', '.js', '.css', '.html']);
  assert.ok(files.length > 50);
  const tooLong = files
    .map((file) => ({ file, lines: codeLines(readFileSync(join(SRC, file), 'utf8')) }))
    .filter(({ lines }) => lines > MAX_CODE_LINES)
    .map(({ file, lines }) => `${file}: ${lines}`);
  assert.deepEqual(tooLong, [], 'split these files');
});

test('no instance state is compared outside core/lifecycle.ts: other layers ask it', () => {
  assert.ok(INLINE_STATE_RULE.test("if (i.state === 'running' || i.state === 'degraded')"));
  assert.ok(INLINE_STATE_RULE.test("case 'held':"));
  assert.ok(!INLINE_STATE_RULE.test("this.setState('running');"));
  const found: string[] = [];
  for (const file of sourceFiles()) {
    if (file === 'core/lifecycle.ts') continue;
    readFileSync(join(SRC, file), 'utf8').split('\n').forEach((line, i) => {
      if (INLINE_STATE_RULE.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});
