/**
 * `ten init [--name NAME] [--command CMD]`: writes a commented tenement.toml for the app in the
 * current folder, guessing the command of a Node, Python or Go project when none is given.
 * @module
 */
import type { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { TenementError } from '../../core/errors.js';
import { assertName, DASHBOARD_LABEL } from '../../core/names.js';
import type { CliContext } from '../command.js';

export interface DetectedApp {
  readonly command: string;
  readonly kind: 'node' | 'python' | 'go';
}

/** Node (package.json start script, else main), Python (app.py / main.py) or Go (go.mod). */
export function detectApp(dir: string): DetectedApp | undefined {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    try {
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { scripts?: { start?: unknown }; main?: unknown };
      if (typeof pkg.scripts?.start === 'string') return { kind: 'node', command: 'npm start' };
      if (typeof pkg.main === 'string') return { kind: 'node', command: `node ${pkg.main}` };
    } catch {
      // An unreadable package.json: fall through to the other languages.
    }
    if (existsSync(join(dir, 'index.js'))) return { kind: 'node', command: 'node index.js' };
  }
  for (const file of ['app.py', 'main.py']) {
    if (existsSync(join(dir, file))) return { kind: 'python', command: `python3 ${file}` };
  }
  if (existsSync(join(dir, 'go.mod'))) return { kind: 'go', command: 'go run .' };
  return undefined;
}

/** A name from the folder: lower-cased, other characters to "-", trimmed to one host label. */
export function nameFromFolder(dir: string): string {
  const name = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|[-_]+$/g, '').slice(0, 63);
  const trimmed = name.replace(/[-_]+$/, '');
  // "tenement" is the dashboard's host label, which no service may take.
  return trimmed === '' || trimmed === DASHBOARD_LABEL ? 'app' : trimmed;
}

export function renderConfig(name: string, command: string): string {
  return `# tenement.toml: how tenement runs your app, one process per tenant.
# Start the server with \`ten serve\`, then \`ten spawn ${name}:demo\`.
# Every key is in the docs; the commented ones show their defaults.

[settings]
data_dir = "./data"             # state store, API token, per-instance data
# health_check_interval = 10    # s between health checks
# max_restarts = 3              # restarts within restart_window before "failed"
# restart_window = 300          # s
# port_range = [30000, 40000]   # ports handed to instances
# auto_spawn_per_minute = 10    # new auto_spawn instances one client address may register a minute
# trusted_proxies = []          # peers whose X-Forwarded-For/-Proto are believed, e.g. ["127.0.0.1"] behind a local Caddy
# uid_range = [61184, 65519]    # as root: each instance runs as a uid of its own from here
# (port_fence: unset, only tenement may connect to port_range where nftables is present; true requires it)

[service.${name}]
command = ${JSON.stringify(command)}
# The app must listen on 127.0.0.1:$PORT. It also gets HOST, DATA_DIR and TENEMENT_INSTANCE.
health = "/health"              # GET path answering 200 when ready; remove to use a TCP connect
# workdir = "."                 # relative to this file
# isolation = "process"         # process | namespace | sandbox
# idle_timeout = 300            # s without requests before stopping (0 = never); woken on the next request
# startup_timeout = 10          # s to the first healthy answer
# request_timeout = 30          # s
# restart = "on-failure"        # always | on-failure | never
# memory_limit_mb = 256
# pids_limit = 512              # most processes and threads the instance may have
# (user = "name" runs the service as that existing user instead of a uid of its own)
# auto_spawn = false            # true: any valid {id}.${name}.{domain} is spawned on demand

[service.${name}.env]
DATA_DIR = "{data_dir}/{name}/{id}"   # {name} {id} {data_dir} {port} are filled in per instance

# Instances registered at every start of \`ten serve\`:
# [instances]
# ${name} = ["demo"]
`;
}

export function register(program: Command, ctx: CliContext): void {
  program.command('init')
    .description('write a commented tenement.toml for the app in this folder')
    .option('--name <name>', 'service name (default: the folder name)')
    .option('--command <cmd>', 'command that starts the app (default: detected Node, Python or Go project)')
    .action(ctx.action(async (flags: { name?: string; command?: string }) => {
      const dir = process.cwd();
      const file = resolve(dir, ctx.globals().config ?? 'tenement.toml');
      if (existsSync(file)) {
        throw new TenementError('already_exists', `${basename(file)} already exists; not overwriting it`, { hint: 'edit it, or remove it and run `ten init` again' });
      }
      const name = flags.name === undefined ? nameFromFolder(dir) : assertName('service', flags.name);
      if (name === DASHBOARD_LABEL) {
        throw new TenementError('usage', `the service name "${DASHBOARD_LABEL}" is reserved: ${DASHBOARD_LABEL}.{domain} is the dashboard's own host`, { hint: 'choose another with --name' });
      }
      const detected = flags.command === undefined ? detectApp(dir) : undefined;
      const command = flags.command ?? detected?.command;
      if (command === undefined || command.trim() === '') {
        throw new TenementError('usage', 'no Node, Python or Go project found here; say how to start the app with --command', {
          hint: 'e.g. `ten init --command "python3 app.py"`',
        });
      }
      writeFileSync(file, renderConfig(name, command), { flag: 'wx' });
      const how = detected === undefined ? '' : ` (detected a ${detected.kind === 'node' ? 'Node' : detected.kind === 'python' ? 'Python' : 'Go'} project)`;
      return `wrote ${basename(file)}: service "${name}" runs \`${command}\`${how}\nnext: \`ten serve\`, then \`ten spawn ${name}:demo\``;
    }));
}
