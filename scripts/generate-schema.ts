// `npm run schema`: writes schema/tenement.schema.json from the zod schema of tenement.toml and
// the key descriptions in docs/configuration.md (see src/config/json-schema.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCS_FILE, SCHEMA_FILE, renderConfigJsonSchema } from '../src/config/json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, SCHEMA_FILE), renderConfigJsonSchema(readFileSync(join(root, DOCS_FILE), 'utf8')));
console.log(`wrote ${SCHEMA_FILE}`);
