/**
 * The JSON Schema of tenement.toml (schema/tenement.schema.json, for editors' TOML language
 * servers), generated from the zod schema that `ten serve` validates with, with each key's
 * description taken from the key tables of docs/configuration.md. `npm run schema` writes it;
 * config-docs.test.ts checks that the docs, the zod schema and the committed file agree.
 * Not loaded by `ten serve` or the CLI.
 * @module
 */
import { parse as parseToml } from 'smol-toml';
import * as z from 'zod';
import { ConfigFileSchema } from './schema.js';

export const DOCS_FILE = 'docs/configuration.md';
export const SCHEMA_FILE = 'schema/tenement.schema.json';

/** A JSON Schema node, as far as this module reads or writes it. */
export interface JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  required?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: JsonSchemaNode[];
  format?: string;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: JsonSchemaNode | boolean;
  [other: string]: unknown;
}

/** One row of a key table in docs/configuration.md. */
export interface DocumentedKey {
  /** Dotted path, a service's keys under `service.*`: `settings.tls.enabled`, `service.*.command`. */
  readonly path: string;
  readonly type: string;
  /** The default as a TOML value (parsed), or undefined for `—` (unset). */
  readonly default: unknown;
  readonly meaning: string;
}

/** `[service.NAME]` → `service.*`; `[settings.tls]` → `settings.tls`. */
function tablePath(heading: string): string | undefined {
  const m = /^#{2,3} `\[([a-z_.A-Z]+)\]`$/.exec(heading.trim());
  return m?.[1]?.replace(/\.NAME\b/, '.*');
}

/** Splits a Markdown table row on the `|` that are not escaped as `\|`. */
function cells(row: string): string[] {
  return row.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'));
}

export function parseConfigDocs(markdown: string): DocumentedKey[] {
  const keys: DocumentedKey[] = [];
  let table: string | undefined;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('#')) {
      table = tablePath(line);
      continue;
    }
    if (table === undefined || !line.startsWith('| `')) continue;
    const [key, type, defaultCell, meaning] = cells(line);
    if (key === undefined || type === undefined || defaultCell === undefined || meaning === undefined) {
      throw new Error(`${DOCS_FILE}: a key row needs 4 cells: ${line}`);
    }
    // Through JSON: smol-toml's tables have no prototype, the schema's defaults do.
    const value = defaultCell === '—' ? undefined : JSON.parse(JSON.stringify(parseToml(`v = ${defaultCell.replace(/^`|`$/g, '')}`).v)) as unknown;
    keys.push({ path: `${table}.${key.replace(/`/g, '')}`, type, default: value, meaning });
  }
  return keys;
}

/** The first paragraph under each table's heading (`settings.tls` → "Accepted and validated, …"). */
export function parseSectionIntros(markdown: string): Map<string, string> {
  const intros = new Map<string, string>();
  let table: string | undefined;
  let paragraph: string[] = [];
  const close = (): void => {
    if (table !== undefined && paragraph.length > 0 && !intros.has(table)) intros.set(table, paragraph.join(' '));
    paragraph = [];
  };
  for (const line of markdown.split('\n')) {
    if (line.startsWith('#')) {
      close();
      table = tablePath(line);
    } else if (line.trim() === '' || /^(\||```)/.test(line)) {
      close();
    } else if (table !== undefined) {
      paragraph.push(line.trim());
    }
  }
  close();
  return intros;
}

/** Every key of a fixed-key table in the schema (not the entries of free tables such as `env`). */
export function schemaKeys(): Array<{ path: string; node: JsonSchemaNode; required: boolean }> {
  const found: Array<{ path: string; node: JsonSchemaNode; required: boolean }> = [];
  const walk = (node: JsonSchemaNode, prefix: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      found.push({ path: `${prefix}.${key}`, node: child, required: node.required?.includes(key) === true });
      walk(child, `${prefix}.${key}`);
    }
    if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties !== undefined) {
      walk(node.additionalProperties, `${prefix}.*`);
    }
  };
  for (const [section, node] of Object.entries(configJsonSchema().properties ?? {})) walk(node, section);
  return found;
}

/**
 * zod's JSON Schema of the file as written (defaults make keys optional), without its noise.
 * Draft 7: the draft every TOML language server reads.
 */
export function configJsonSchema(): JsonSchemaNode {
  const schema = z.toJSONSchema(ConfigFileSchema, { io: 'input', target: 'draft-7' }) as JsonSchemaNode;
  const clean = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as JsonSchemaNode;
    // zod writes `startsWith` as a made-up format beside the pattern that already says it.
    if (n.format === 'starts_with') delete n.format;
    if (n.maximum === Number.MAX_SAFE_INTEGER) delete n.maximum;
    if (n.minimum === Number.MIN_SAFE_INTEGER) delete n.minimum;
    for (const value of Object.values(n)) clean(value);
  };
  clean(schema);
  return schema;
}

/** The JSON Schema with the docs' descriptions, as the text of schema/tenement.schema.json. */
export function renderConfigJsonSchema(docsMarkdown: string): string {
  const schema = configJsonSchema();
  const meanings = new Map(parseConfigDocs(docsMarkdown).map((key) => [key.path, key.meaning]));
  // A table is described by the paragraph under its own heading rather than its row's "See [x]".
  for (const [path, intro] of parseSectionIntros(docsMarkdown)) meanings.set(path, intro);
  const describe = (node: JsonSchemaNode, prefix: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      // `service` itself is described by its entries' heading, `[service.NAME]`.
      const meaning = meanings.get(path) ?? meanings.get(`${path}.*`);
      if (meaning !== undefined) child.description = meaning;
      describe(child, path);
    }
    if (typeof node.additionalProperties === 'object') {
      const meaning = meanings.get(`${prefix}.*`);
      if (meaning !== undefined) node.additionalProperties.description = meaning;
      describe(node.additionalProperties, `${prefix}.*`);
    }
  };
  describe(schema, '');
  const { $schema, ...rest } = schema;
  const withTitle = { $schema, title: 'tenement.toml', description: 'tenement configuration; every key is described in docs/configuration.md', ...rest };
  return `${JSON.stringify(withTitle, null, 2)}\n`;
}
