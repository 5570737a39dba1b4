/**
 * `ten deploy SERVICE:V | SERVICE --version V [--weight N] [--timeout S]`: spawn the version, wait
 * until healthy, then give it weight; on failure the other versions keep their weights. With
 * `--canary 10,50,100 [--interval 60s]` the server steps its share of the traffic and promotes or
 * rolls it back by itself; the command follows it (exit 0 promoted, 1 rolled back) unless `--detach`.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { CanaryStatus } from '../../api/contract.js';
import { TenementError } from '../../core/errors.js';
import { parseCanarySteps, parseInterval, parseSeconds, parseTarget, parseWeight } from '../args.js';
import type { CliContext, CommandOutput } from '../command.js';
import { formatElapsed } from '../output.js';

interface DeployFlags { version?: string; weight?: number; timeout?: number; canary?: number[]; interval?: number; detach?: boolean }

const DECIDED: ReadonlySet<CanaryStatus['state']> = new Set(['promoted', 'rolled_back']);

/** How often a followed canary's status is read. */
const FOLLOW_MS = 500;
/** How long following waits for a server that went away (a restart) before giving up. */
const UNREACHABLE_MS = 60_000;

export function register(program: Command, ctx: CliContext): void {
  program.command('deploy')
    .description('spawn SERVICE:VERSION, wait until healthy, then give it weight (other versions untouched on failure); --canary steps it in')
    .argument('<target>', 'SERVICE:VERSION, or SERVICE with --version')
    .option('--version <v>', 'version (when the first argument is only SERVICE)')
    .option('--weight <n>', 'weight once healthy, 0-100 (default 100)', parseWeight)
    .option('--timeout <s>', 'seconds to wait for health (default 60)', parseSeconds)
    .option('--canary <steps>', 'shares of the traffic in %, e.g. 10,50,100: promote or roll back by itself', parseCanarySteps)
    .option('--interval <d>', 'how long each canary step lasts, e.g. 60s or 2m (default 60s)', parseInterval)
    .option('--detach', 'with --canary: return once it has started')
    .action(ctx.action(async (target: string, flags: DeployFlags) => {
      const { service, id: version } = parseTarget(target, flags.version, 'version');
      if (flags.canary !== undefined) return canary(ctx, service, version, flags);
      for (const option of ['interval', 'detach'] as const) {
        if (flags[option] !== undefined) throw new TenementError('usage', `--${option} needs --canary`);
      }
      const status = ctx.status();
      const started = Date.now();
      status.update(`deploying ${service}:${version} …`, `deploying ${service}:${version}`);
      try {
        const { instance } = await ctx.client().deploy({
          service, version,
          ...(flags.weight === undefined ? {} : { weight: flags.weight }),
          ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        });
        return `deployed ${instance.instance}: ${instance.health}, weight ${instance.weight} (${formatElapsed(Date.now() - started)})`;
      } finally {
        status.clear();
      }
    }));
}

async function canary(ctx: CliContext, service: string, version: string, flags: DeployFlags): Promise<CommandOutput> {
  if (flags.weight !== undefined) throw new TenementError('usage', '--weight does not go with --canary (a canary ends at weight 100, or 0)');
  const client = ctx.client();
  const started = Date.now();
  let current = await client.deployCanary({
    service, version, canary: flags.canary,
    ...(flags.interval === undefined ? {} : { interval: flags.interval }),
    ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
  });
  const plan = `steps ${current.steps.join(', ')} %, ${current.interval_s}s each`;
  if (flags.detach === true) return `canary of ${current.instance} started: ${plan} (GET /api/deploys/${service} shows it)`;
  const status = ctx.status();
  try {
    status.update(`canary of ${current.instance}: starting (${plan})`, `canary of ${current.instance}: starting (${plan})`);
    let reached = Date.now();
    while (!DECIDED.has(current.state)) {
      await sleep(FOLLOW_MS);
      try {
        current = await client.canary(service);
        reached = Date.now();
      } catch (err) {
        // The canary lives in the server and survives its restart: wait for it to come back.
        if (!(err instanceof TenementError && err.code === 'server_unreachable') || Date.now() - reached > UNREACHABLE_MS) throw err;
        status.update(`canary of ${current.instance}: server unreachable, retrying…`, `canary of ${current.instance}: server unreachable, retrying`);
        continue;
      }
      if (current.step > 0) {
        const line = `canary of ${current.instance}: step ${current.step}/${current.steps.length}, ${current.percent} % of the traffic`;
        status.update(`${line} (${formatElapsed(Date.now() - started)})`, line);
      }
    }
  } finally {
    status.clear();
  }
  return finalLine(current, Date.now() - started);
}

function finalLine(c: CanaryStatus, elapsedMs: number): CommandOutput {
  const stable = Object.keys(c.stable).map((id) => `${c.service}:${id}`);
  if (c.state === 'promoted') {
    return `promoted ${c.instance}: weight 100, ${stable.join(', ')} weight 0 (${formatElapsed(elapsedMs)})`;
  }
  const restored = Object.entries(c.stable).map(([id, w]) => `${c.service}:${id} weight ${w}`).join(', ');
  return { stderr: `rolled back ${c.instance}: ${c.reason ?? 'no reason given'}; ${restored} again\n`, exitCode: 1 };
}
