// Lint: typescript-eslint recommended, `node:` prefixes, and the layer boundaries of STYLE.md
// (a folder imports only from the layers below it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((dir) => ({ group: [`**/${dir}/*`, `../${dir}/*`, `./${dir}/*`], message })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'examples/**/data/**', 'src/dashboard/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', {
        selector: "ImportDeclaration[source.value=/^(fs|path|http|https|net|os|child_process|events|stream|url|crypto|util|assert|zlib|readline|timers|dns|tty)(\\/.*)?$/]",
        message: 'use the node: prefix for built-in modules',
      }],
    },
  },
  layer(['src/core/**'], ['config', 'runtime', 'store', 'observability', 'supervisor', 'proxy', 'tls', 'api', 'cli'], 'core depends on nothing'),
  layer(['src/config/**'], ['runtime', 'store', 'observability', 'supervisor', 'proxy', 'tls', 'api', 'cli'], 'config imports only core'),
  layer(['src/store/**'], ['config', 'runtime', 'observability', 'supervisor', 'proxy', 'tls', 'api', 'cli'], 'store imports only core'),
  layer(['src/runtime/**'], ['store', 'observability', 'supervisor', 'proxy', 'tls', 'api', 'cli'], 'runtime imports only core and config'),
  layer(['src/supervisor/**'], ['observability', 'proxy', 'tls', 'api', 'cli'], 'supervisor must not import observability, proxy, tls, api or cli (it publishes on core/events)'),
  layer(['src/observability/**'], ['proxy', 'tls', 'api', 'cli'], 'observability reads the supervisor and the store; it must not import proxy, tls, api or cli'),
  layer(['src/proxy/**'], ['tls', 'api', 'cli'], 'proxy must not import tls, api or cli'),
  // TLS sits in front of the proxy: it hands connections to the front server and asks its route table.
  layer(['src/tls/**'], ['api', 'cli'], 'tls must not import api or cli'),
  layer(['src/api/**'], ['proxy', 'tls', 'cli'], 'api must not import proxy, tls or cli'),
  {
    files: ['src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/config/*', '**/runtime/*', '**/supervisor/*', '**/proxy/*', '**/tls/*', '**/observability/*', '**/api/*', '!**/api/contract.js'],
          message: 'the CLI is a thin client: import only core/ and api/contract (serve and token-gen load the daemon side dynamically)',
        }],
      }],
    },
  },
);
