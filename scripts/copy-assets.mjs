// Build step after tsc: copies the files tsc does not emit (SQL migrations, dashboard) into dist/.
import { cpSync, existsSync } from 'node:fs';

for (const [from, to] of [['src/store/migrations', 'dist/store/migrations'], ['src/dashboard', 'dist/dashboard']]) {
  if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (f) => !f.endsWith('.ts') });
}
