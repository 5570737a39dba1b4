// docs/configuration.md and schema/tenement.schema.json against the zod schema `ten serve`
// validates with: every key documented with its real type, bound and default; nothing documented
// that the schema doesn't know; the committed JSON Schema is a fresh generation, and an editor
// using it accepts the configs tenement accepts and flags the mistakes tenement refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseToml } from 'smol-toml';
import { DOCS_FILE, SCHEMA_FILE, configJsonSchema, parseConfigDocs, renderConfigJsonSchema, schemaKeys } from './json-schema.js';
import type { JsonSchemaNode } from './json-schema.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const docs = readFileSync(join(ROOT, DOCS_FILE), 'utf8');
const documented = new Map(parseConfigDocs(docs).map((key) => [key.path, key]));
const keys = schemaKeys();

/** The words the docs use for a JSON Schema type. */
const TYPE_WORDS: Record<string, string> = { string: 'string', integer: 'integer', number: 'number', boolean: 'boolean', array: 'array', object: 'table' };

test('every key of the schema is documented, and every documented key exists', () => {
  const inSchema = new Set(keys.map((k) => k.path));
  assert.deepEqual([...inSchema].filter((path) => !documented.has(path)), [], `keys missing from ${DOCS_FILE}`);
  assert.deepEqual([...documented.keys()].filter((path) => !inSchema.has(path)), [], `keys in ${DOCS_FILE} that the schema refuses`);
  for (const section of Object.keys(configJsonSchema().properties ?? {})) {
    assert.match(docs, new RegExp(`^## \`\\[${section}[\\].]`, 'm'), `a section for [${section}]`);
  }
});

test('documented defaults are the defaults', () => {
  for (const { path, node } of keys) {
    assert.deepEqual(documented.get(path)?.default, node.default, `default of ${path}`);
  }
});

test('documented types, bounds, choices and required keys match the schema', () => {
  for (const { path, node, required } of keys) {
    const doc = documented.get(path)!;
    if (node.enum !== undefined) {
      for (const choice of node.enum) assert.ok(doc.type.includes(`\`${JSON.stringify(choice)}\``), `${path}: ${doc.type} lists ${String(choice)}`);
    } else if (Array.isArray(node.anyOf)) {
      for (const alternative of node.anyOf as JsonSchemaNode[]) {
        assert.ok(doc.type.includes(TYPE_WORDS[alternative.type ?? ''] ?? '?'), `${path}: "${doc.type}" allows a ${alternative.type}`);
      }
    } else {
      assert.ok(doc.type.startsWith(TYPE_WORDS[node.type ?? ''] ?? '?'), `${path}: "${doc.type}" is a ${node.type}`);
    }
    const bound = describeBound(node);
    if (bound !== undefined) assert.ok(doc.type.includes(bound), `${path}: "${doc.type}" says ${bound}`);
    assert.equal(doc.type.includes('required'), required, `${path}: required is ${required}`);
  }
});

function describeBound(node: JsonSchemaNode): string | undefined {
  if (node.exclusiveMinimum !== undefined && node.exclusiveMaximum !== undefined) return `> ${node.exclusiveMinimum} and < ${node.exclusiveMaximum}`;
  if (node.exclusiveMinimum !== undefined) return `> ${node.exclusiveMinimum}`;
  if (node.minimum !== undefined && node.maximum !== undefined) return `${node.minimum}–${node.maximum}`;
  if (node.minimum !== undefined) return `≥ ${node.minimum}`;
  return undefined;
}

test(`${SCHEMA_FILE} is up to date (npm run schema writes it)`, () => {
  assert.equal(readFileSync(join(ROOT, SCHEMA_FILE), 'utf8'), renderConfigJsonSchema(docs));
});

test('an editor using the JSON Schema accepts good configs and flags bad ones', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(ROOT, SCHEMA_FILE), 'utf8')) as object);
  const check = (file: string): boolean => validate(parseToml(readFileSync(join(ROOT, file), 'utf8')));
  for (const good of ['test/fixtures/config/good-full.toml', 'examples/notes/tenement.toml']) {
    assert.ok(check(good), `${good}: ${JSON.stringify(validate.errors)}`);
  }
  for (const bad of ['bad-isolation', 'bad-unknown-service-key', 'bad-unknown-top-level-key', 'bad-wrong-type', 'bad-service-name', 'bad-missing-command', 'bad-port-range-privileged', 'bad-instance-id']) {
    assert.equal(check(`test/fixtures/config/${bad}.toml`), false, `${bad}.toml is flagged`);
  }
});

test('every key and table in the JSON Schema carries its description from the docs', () => {
  const schema = JSON.parse(renderConfigJsonSchema(docs)) as JsonSchemaNode;
  const missing: string[] = [];
  const walk = (node: JsonSchemaNode, path: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (child.description === undefined) missing.push(`${path}${key}`);
      walk(child, `${path}${key}.`);
    }
    if (typeof node.additionalProperties === 'object' && node.additionalProperties.type === 'object') {
      if (node.additionalProperties.description === undefined) missing.push(`${path}*`);
      walk(node.additionalProperties, `${path}*.`);
    }
  };
  walk(schema, '');
  assert.deepEqual(missing, []);
});
