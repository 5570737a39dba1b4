/**
 * `ten install [--domain D] [--dry-run]`: runs `ten serve` under systemd (README: Production). Writes
 * /etc/systemd/system/tenement.service for the config and data dir it was given, then reloads
 * systemd, enables and starts it; `--dry-run` prints the unit instead. The unit leaves tenants
 * running across a restart of tenement (SIGTERM to tenement alone, KillMode=process), delegates its
 * cgroup, and sandboxes only in ways that keep process, namespace and gVisor isolation working.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parse } from 'smol-toml';
import { TenementError } from '../../core/errors.js';
import type { CliContext } from '../command.js';

export const UNIT_FILE = '/etc/systemd/system/tenement.service';
export const SOCKET_FILE = '/etc/systemd/system/tenement.socket';
/** Where `ten serve` listens by default; the socket unit holds it open across restarts. */
const LISTEN = '127.0.0.1:8080';
const TEN_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/ten');
/** Time tenement gets for its own shutdown beyond the slowest service's stop_timeout. */
const STOP_MARGIN_S = 30;
const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

export interface UnitOptions {
  readonly node: string;
  readonly ten: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly domain: string | undefined;
  /** The longest `stop_timeout` of the config's services, in seconds. */
  readonly maxStopTimeoutS: number;
  /** `[settings.tls] enabled`: tenement is the front door, reachable on every address. */
  readonly isFrontDoor: boolean;
}

/** systemd quoting for one ExecStart argument. */
function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/[\\"]/g, '\\$&')}"`;
}

export function renderUnit(o: UnitOptions): string {
  const exec = [o.node, o.ten, '--config', o.configFile, '--data-dir', o.dataDir, 'serve',
    // Behind Caddy (TLS off) it stays on loopback, the default.
    ...(o.isFrontDoor ? ['--bind', '0.0.0.0'] : []),
    ...(o.domain === undefined ? [] : ['--domain', o.domain])];
  return `# Written by \`ten install\`. Reinstall with it rather than editing by hand.
[Unit]
Description=tenement: one process per tenant (ten serve)
After=network-online.target tenement.socket
Wants=network-online.target
# The ports are tenement.socket's: they stay open (connections wait) while tenement restarts.
Requires=tenement.socket

[Service]
Type=simple
ExecStart=${exec.map(quote).join(' ')}
WorkingDirectory=${quote(dirname(o.configFile))}
Restart=on-failure
RestartSec=2
# SIGTERM goes to tenement alone, and the tenants stay: \`systemctl restart tenement\` keeps them
# running and the next start adopts them (README: Restarting the server keeps tenants). To stop
# them too: systemctl kill tenement (SIGTERM to every process of the unit).
KillMode=process
TimeoutStopSec=${Math.ceil(o.maxStopTimeoutS) + STOP_MARGIN_S}
# tenement manages cgroups for the tenants' limits (cgroup v2: a delegated subtree).
Delegate=yes
LimitNOFILE=1048576
UMask=0077
# Sandboxing that leaves namespaces, mounts, cgroups and gVisor (runsc) working: tenement runs as
# root and creates namespaces for its tenants, so namespace, mount and cgroup restrictions are off.
ProtectSystem=full
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
ReadWritePaths=${quote(o.dataDir)}

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The listening sockets systemd holds for `ten serve` (socket activation): the loopback port behind
 * Caddy; with TLS on, port 80 and the HTTPS port on every address, passed in that order.
 */
export function renderSocket(httpsPort?: number): string {
  const listen = httpsPort === undefined ? [LISTEN] : ['0.0.0.0:80', `0.0.0.0:${httpsPort}`];
  return `# Written by \`ten install\`. Reinstall with it rather than editing by hand.
[Unit]
Description=tenement's port${listen.length > 1 ? 's' : ''}, kept open while ten serve restarts

[Socket]
${listen.length > 1 ? '# ten serve takes the first as its HTTP port and the second as its HTTPS port.\n' : ''}${listen.map((l) => `ListenStream=${l}`).join('\n')}
Backlog=4096

[Install]
WantedBy=sockets.target
`;
}

interface InstallFlags { domain?: string; dryRun?: boolean }

export function register(program: Command, ctx: CliContext): void {
  program.command('install')
    .description(`run ten serve as a systemd service (writes ${UNIT_FILE}, enables and starts it)`)
    .option('--domain <domain>', 'base domain passed to ten serve')
    .option('--dry-run', 'print the unit instead of installing it')
    .action(ctx.action(async (flags: InstallFlags) => {
      const configFile = resolve(ctx.globals().config ?? 'tenement.toml');
      if (!existsSync(configFile)) {
        throw new TenementError('usage', `no config file at ${configFile}`, { hint: 'run `ten init` first, or pass --config FILE' });
      }
      const domain = flags.domain?.toLowerCase();
      if (domain !== undefined && !DOMAIN.test(domain)) throw new TenementError('usage', `invalid domain ${JSON.stringify(flags.domain)}: expected a DNS name such as example.com`);
      const file = readSettings(configFile);
      const unit = renderUnit({
        node: process.execPath, ten: TEN_BIN, configFile, dataDir: ctx.dataDir(), domain, maxStopTimeoutS: file.maxStopTimeoutS, isFrontDoor: file.isTlsEnabled,
      });
      const files: Array<[string, string]> = [[UNIT_FILE, unit], [SOCKET_FILE, renderSocket(file.isTlsEnabled ? file.httpsPort : undefined)]];
      if (flags.dryRun === true) return { stdout: files.map(([path, text]) => `# ${path}\n${text}`).join('\n') };
      for (const [path, text] of files) {
        try {
          writeFileSync(path, text, { mode: 0o644 });
        } catch (err) {
          throw new TenementError('unavailable', `cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { hint: 'run it as root, or use --dry-run to see the units' });
        }
      }
      const units = ['tenement.socket', 'tenement.service'];
      for (const args of [['daemon-reload'], ['enable', '--now', ...units]]) {
        try {
          execFileSync('systemctl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
        } catch (err) {
          const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n')[0];
          throw new TenementError('unavailable', `systemctl ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { hint: `the unit is in ${UNIT_FILE}` });
        }
      }
      return `installed ${files.map(([path]) => path).join(' and ')}; ${units.join(' and ')} enabled and started\nsee it with: systemctl status tenement; journalctl -u tenement -f`;
    }));
}

/** What the unit depends on in the config; the file's own errors are ten serve's to report. */
function readSettings(configFile: string): { maxStopTimeoutS: number; isTlsEnabled: boolean; httpsPort: number } {
  try {
    const file = parse(readFileSync(configFile, 'utf8')) as { service?: Record<string, { stop_timeout?: unknown }>; settings?: { tls?: { enabled?: unknown; https_port?: unknown } } };
    const stops = Object.values(file.service ?? {}).map((s) => (typeof s.stop_timeout === 'number' ? s.stop_timeout : 10));
    const httpsPort = file.settings?.tls?.https_port;
    return {
      maxStopTimeoutS: Math.max(10, ...stops), isTlsEnabled: file.settings?.tls?.enabled === true,
      httpsPort: typeof httpsPort === 'number' && Number.isInteger(httpsPort) ? httpsPort : 443,
    };
  } catch {
    return { maxStopTimeoutS: 10, isTlsEnabled: false, httpsPort: 443 };
  }
}
