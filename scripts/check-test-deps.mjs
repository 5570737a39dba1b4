// `npm test` runs this first (the `pretest` script): on a machine that lacks what the tests need,
// say so in one line, with the one command that fixes it, instead of failing deep in the output.
// No dependencies, so it works before anything is built.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What the test suite runs, the Debian package that has it, and which tests need it. */
const TOOLS = [
  { command: 'runsc', pkg: 'runsc', for: 'sandbox tests' },
  { command: 'promtool', pkg: 'prometheus', for: 'metrics test' },
  { command: 'chromium', pkg: 'chromium', for: 'dashboard test' },
  { command: 'unshare', pkg: 'util-linux', for: 'namespace tests' },
  { command: 'pebble', pkg: 'pebble', for: 'HTTPS tests' },
  { command: 'pebble-challtestsrv', pkg: 'pebble', for: 'HTTPS tests' },
  { command: 'openssl', pkg: 'openssl', for: 'HTTPS tests' },
  { command: 'caddy', pkg: 'caddy', for: 'ten caddy test' },
  { command: 'systemd-analyze', pkg: 'systemd', for: 'ten install test' },
];

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

const listAnd = (words) => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`);

const missing = TOOLS.filter((tool) => !onPath(tool.command));
const isRoot = process.getuid?.() === 0;

if (missing.length > 0 || !isRoot) {
  const sudo = isRoot ? '' : 'sudo ';
  const asRoot = isRoot ? '' : 'must run as root (namespace, sandbox and cgroup tests)';
  const problem = missing.length === 0
    ? asRoot
    : `needs ${listAnd(missing.map((tool) => `${tool.command} (${tool.for})`))}, which this machine lacks${isRoot ? '' : `, and ${asRoot}`}`;
  const fix = missing.length === 0
    ? 'sudo npm test'
    : `${sudo}apt-get update && ${sudo}apt-get install -y ${[...new Set(missing.map((tool) => tool.pkg))].join(' ')}${isRoot ? '' : ' && sudo npm test'}`;
  const where = missing.length === 0 ? '' : ' (Debian 12)';
  process.stderr.write(`error: npm test ${problem}\n` +
    `hint: run \`${fix}\`${where}, or \`sudo bash .ci/run\`, which installs what the tests need and runs them as CI does\n`);
  process.exit(2);
}
