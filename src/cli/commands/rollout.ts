/**
 * `ten rollout SERVICE [--cohorts 1,10,50,100] [--interval 30s] [--detach]` and
 * `ten rollout status|pause|resume|abort SERVICE`. The rollout runs in the server; this prints each
 * step as the event stream reports it and exits 0 once rolled out, 1 when rolled back or aborted
 * (the reason on one line), 2 for usage errors. A server restart in between is waited out.
 * @module
 */
import type { Command } from 'commander';
import type { RolloutEvent, RolloutStatus } from '../../api/contract.js';
import { TenementError, toTenementError } from '../../core/errors.js';
import { parseCohorts, parseInterval } from '../args.js';
import type { ApiClient } from '../client.js';
import type { CliContext, CommandOutput } from '../command.js';
import { sseEvents } from './logs.js';

interface RolloutFlags { cohorts?: number[]; interval?: number; detach?: boolean; json?: boolean }

const ACTIONS = ['status', 'pause', 'resume', 'abort'] as const;
type Action = (typeof ACTIONS)[number];
/** How long following waits for a server that went away (a restart) before giving up. */
const RECONNECT_MS = 60_000;
const RETRY_MS = 500;

export function register(program: Command, ctx: CliContext): void {
  program.command('rollout')
    .description('move SERVICE\'s running instances to its current template cohort by cohort, rolling back by itself on a breach; or status|pause|resume|abort SERVICE')
    .argument('<service-or-action>', 'SERVICE to roll out, or status, pause, resume, abort')
    .argument('[service]', 'the SERVICE, after status, pause, resume or abort')
    .option('--cohorts <list>', 'cumulative percentages of the running instances (default 1,10,50,100)', parseCohorts)
    .option('--interval <time>', 'how long each cohort must stay healthy before the next, e.g. 30s, 2m (default 30s)', parseInterval)
    .option('--detach', 'start it and return at once (follow it with `ten rollout status`)')
    .option('--json', 'status: the rollout as JSON')
    .action(ctx.action(async (first: string, second: string | undefined, flags: RolloutFlags) => {
      const client = ctx.client();
      if (second === undefined) return start(client, first, flags);
      if (!(ACTIONS as readonly string[]).includes(first)) {
        throw new TenementError('usage', `unknown rollout action "${first}": use ten rollout SERVICE, or ten rollout status|pause|resume|abort SERVICE`);
      }
      if (flags.cohorts !== undefined || flags.interval !== undefined || flags.detach === true) {
        throw new TenementError('usage', `--cohorts, --interval and --detach go with ten rollout SERVICE, not with ${first}`);
      }
      const action = first as Action;
      const status = action === 'status' ? await client.rollout(second) : await client.controlRollout(second, action);
      if (action === 'status') return flags.json === true ? JSON.stringify(status, null, 2) : formatStatus(status);
      return status.message ?? `${status.service}: ${status.state}`;
    }));
}

async function start(client: ApiClient, service: string, flags: RolloutFlags): Promise<CommandOutput> {
  const body = { service, ...(flags.cohorts === undefined ? {} : { cohorts: flags.cohorts }), ...(flags.interval === undefined ? {} : { interval: flags.interval }) };
  if (flags.detach === true) {
    const status = await client.startRollout(body);
    return `${status.message ?? 'started'}\nfollow it with: ten rollout status ${status.service}`;
  }
  const final = await follow(client, service, () => client.startRollout(body));
  if (final.state === 'succeeded') return undefined;
  return { stderr: `error: ${final.state === 'aborted' ? 'aborted' : 'rolled back'}: ${final.reason ?? final.message ?? ''}`, exitCode: 1 };
}

/**
 * Prints each step of the service's rollout until it ends; the stream is opened before `begin` so
 * that no step is missed. When the server goes away it reconnects and reads the status again.
 */
async function follow(client: ApiClient, service: string, begin: () => Promise<RolloutStatus>): Promise<RolloutStatus> {
  let shown = '';
  const show = (s: RolloutStatus): void => {
    const line = s.message ?? '';
    const key = `${s.updated_at} ${line}`;
    if (line === '' || key === shown) return;
    shown = key;
    process.stdout.write(`${line}\n`);
  };
  let started = false;
  let lostAt: number | undefined;
  for (;;) {
    try {
      const stream = await client.openStream('/api/events');
      lostAt = undefined;
      const now = started ? await client.rollout(service) : await begin();
      started = true;
      show(now);
      if (isFinished(now)) return now;
      for await (const event of sseEvents(stream)) {
        if (event.event !== 'rollout') continue;
        const step = JSON.parse(event.data) as RolloutEvent;
        if (step.service !== service) continue;
        show(step);
        if (isFinished(step)) return step;
      }
    } catch (err) {
      // Once following, only a lost server (or a cut stream) is waited for; a refusal ends the command.
      const e = toTenementError(err);
      if (!started || (e.code !== 'server_unreachable' && e.code !== 'internal')) throw e;
    }
    lostAt ??= Date.now();
    if (Date.now() - lostAt > RECONNECT_MS) {
      throw new TenementError('server_unreachable', `lost the server for ${RECONNECT_MS / 1000} s while following the rollout of ${service}`, {
        hint: `the rollout goes on in the server: ten rollout status ${service}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function isFinished(s: RolloutStatus): boolean {
  return s.state === 'succeeded' || s.state === 'rolled_back' || s.state === 'aborted';
}

function formatStatus(s: RolloutStatus): string {
  const lines = [
    `${s.service}: ${s.state.replace('_', ' ')}, cohort ${s.cohort}/${s.cohorts.length} (${s.cohorts[s.cohort - 1] ?? 100} %), ${s.moved}/${s.total} moved, ${s.interval_s} s per cohort`,
    `started ${s.started_at}, last change ${s.updated_at}`,
  ];
  if (s.message !== null) lines.push(`last step: ${s.message}`);
  if (s.reason !== null) lines.push(`reason: ${s.reason}`);
  return lines.join('\n');
}
