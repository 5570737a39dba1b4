/**
 * The port fence (docs: isolation): an nftables table of tenement's own that lets only tenement's
 * uid open connections to the ports instances listen on, so instances reach each other only
 * through the proxy. One table per server (named after its data dir), made at start (replacing
 * a crashed server's), deleted at a clean exit. Two rules reject a new connection (the first
 * SYN) on loopback to `port_range`:
 * - from a socket whose owner is not tenement's uid (instances with their own users, and any
 *   other user of the host);
 * - from a socket made inside an instance's cgroup (cgroup2), whatever its uid: a sandbox's
 *   sockets belong to gVisor's sandbox process, which runs as root even when the app does not.
 * @module
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { TenementError } from '../core/errors.js';
import { findExecutable } from './preflight.js';

/** Where nft resolves `socket cgroupv2` paths from. */
const NFT_CGROUP2_ROOT = '/sys/fs/cgroup';

export interface InstanceCgroupMatch {
  /** The instances' parent group, relative to /sys/fs/cgroup, as nft names it. */
  readonly path: string;
  /** Its depth in the cgroup2 hierarchy (1 = a child of the root). */
  readonly level: number;
}

export interface PortFenceOptions {
  readonly dataDir: string;
  readonly portRange: readonly [number, number];
  /** The only uid whose sockets may connect: tenement's own. */
  readonly uid?: number;
  /** Matches sockets of every instance; undefined when the host has no usable cgroup2. */
  readonly instances?: InstanceCgroupMatch | undefined;
  readonly nftPath?: string;
}

/** The parent group's match, if nft can name it (cgroup2 mounted at or below /sys/fs/cgroup). */
export function instanceCgroupMatch(v2Mount: string | undefined, parentDir: string | undefined): InstanceCgroupMatch | undefined {
  if (v2Mount === undefined || parentDir === undefined) return undefined;
  const path = relative(NFT_CGROUP2_ROOT, parentDir);
  const inHierarchy = relative(v2Mount, parentDir);
  if (path.startsWith('..') || inHierarchy === '' || inHierarchy.startsWith('..')) return undefined;
  return { path, level: inHierarchy.split('/').length };
}

/** `tenement_` + 8 hex digits of the data dir: parallel servers never touch each other's table. */
export function fenceTableName(dataDir: string): string {
  return `tenement_${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`;
}

export class PortFence {
  readonly table: string;
  readonly uid: number;
  readonly portRange: readonly [number, number];
  readonly instances: InstanceCgroupMatch | undefined;
  readonly #nftOption: string;
  #installed = false;

  constructor(options: PortFenceOptions) {
    this.table = fenceTableName(options.dataDir);
    this.uid = options.uid ?? process.getuid?.() ?? 0;
    this.portRange = options.portRange;
    this.instances = options.instances;
    this.#nftOption = options.nftPath ?? 'nft';
  }

  /** The ruleset, loaded as one transaction: a stale table of the same name is replaced. */
  script(): string {
    const [low, high] = this.portRange;
    const newConnection = `oifname "lo" tcp dport ${low}-${high} tcp flags & (syn | ack) == syn`;
    const rules = [`${newConnection} meta skuid != ${this.uid} reject with tcp reset`];
    if (this.instances !== undefined) {
      rules.unshift(`${newConnection} socket cgroupv2 level ${this.instances.level} ${JSON.stringify(this.instances.path)} reject with tcp reset`);
    }
    return [
      `add table inet ${this.table}`,
      `delete table inet ${this.table}`,
      `table inet ${this.table} {`,
      '  chain instance_ports {',
      '    type filter hook output priority filter; policy accept;',
      ...rules.map((rule) => `    ${rule}`),
      '  }',
      '}',
      '',
    ].join('\n');
  }

  /** Loads the table; `isolation_unavailable` saying why when the host cannot. */
  async install(): Promise<void> {
    if (process.getuid?.() !== 0) throw unavailable('it needs root to load nftables rules');
    const nft = await findExecutable(this.#nftOption);
    if (nft === undefined) throw unavailable('nftables is not installed (apt-get install nftables)');
    try {
      await runNft(nft, ['-f', '-'], this.script());
    } catch (err) {
      throw unavailable(`nft refused the table (${err instanceof Error ? err.message : String(err)})`);
    }
    this.#installed = true;
  }

  /** Deletes the table if this server loaded it. */
  async remove(): Promise<void> {
    if (!this.#installed) return;
    const nft = await findExecutable(this.#nftOption);
    if (nft !== undefined) await runNft(nft, ['delete', 'table', 'inet', this.table], '').catch(() => undefined);
    this.#installed = false;
  }
}

function runNft(nft: string, args: readonly string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(nft, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(stderr.trim().split('\n')[0] || `nft exited with ${code}`));
    });
    child.stdin.end(input);
  });
}

function unavailable(why: string): TenementError {
  return new TenementError('isolation_unavailable', `the port fence is unavailable: ${why}`, {
    hint: 'install nftables and run ten serve as root, or set [settings] port_fence = false',
  });
}
