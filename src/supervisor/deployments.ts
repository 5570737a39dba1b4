/**
 * Version rollout, the domain side of `POST /api/deploy` and `POST /api/route`: a deploy starts
 * `service:version` with no traffic, waits until it is healthy, and only then gives it its weight;
 * a route swap moves all weight from one version to another in one store transaction. Progressive
 * delivery builds on these two steps.
 * @module
 */
import { TenementError, toTenementError } from '../core/errors.js';
import { isServing, refusesRequests } from '../core/lifecycle.js';
import { formatInstanceName } from '../core/names.js';
import type { InstanceInfo, SupervisorApi } from './types.js';

export interface DeployRequest {
  readonly service: string;
  readonly version: string;
  /** Weight the version gets once healthy. */
  readonly weight: number;
  /** How long it may take to become healthy. */
  readonly timeoutMs: number;
}

export interface RouteSwap {
  readonly service: string;
  readonly from: string;
  readonly to: string;
}

export class Deployments {
  private readonly supervisor: SupervisorApi;
  private readonly logger: { warn(obj: object, msg: string): void };

  constructor(supervisor: SupervisorApi, logger: { warn(obj: object, msg: string): void }) {
    this.supervisor = supervisor;
    this.logger = logger;
  }

  /**
   * Starts the version (weight 0, so no traffic reaches it early), waits until it is healthy, then
   * sets its weight. On failure routing is unchanged, a version this deploy registered is stopped,
   * and the error says why.
   */
  async deploy(req: DeployRequest): Promise<InstanceInfo> {
    const { supervisor } = this;
    const { service, version } = req;
    const name = formatInstanceName(service, version);
    supervisor.service(service);
    const existing = supervisor.get(service, version);
    try {
      await withTimeout(req.timeoutMs, name, async () => {
        if (existing === undefined) await supervisor.spawn(service, version, { weight: 0, wait: true });
        else if (!isServing(existing.state)) await supervisor.start(service, version, { wait: true });
      });
    } catch (err) {
      const cause = toTenementError(err);
      if (cause.code === 'internal') throw err;
      if (existing === undefined) {
        supervisor.stop(service, version).catch((stopErr: unknown) => {
          this.logger.warn({ err: stopErr, instance: name }, 'could not stop a failed deploy');
        });
      }
      throw new TenementError(cause.code, `deploy of ${name} failed: ${cause.message}; routing unchanged`, {
        hint: `see \`ten logs ${name}\``, cause: err,
      });
    }
    return supervisor.setWeight(service, version, req.weight);
  }

  /** `from` to weight 0 and `to` to 100 at once; refused if `to` is held or failed. */
  route(swap: RouteSwap): { from: InstanceInfo; to: InstanceInfo } {
    const { supervisor } = this;
    const { service, from, to } = swap;
    supervisor.service(service);
    supervisor.info(service, from);
    const target = supervisor.info(service, to);
    if (refusesRequests(target.state)) {
      throw new TenementError('invalid_state', `cannot route to ${target.instance}: it is ${target.state}`, {
        hint: `\`ten restart ${target.instance}\` first`,
      });
    }
    supervisor.setWeights([
      { service, id: from, weight: 0 },
      { service, id: to, weight: 100 },
    ]);
    return { from: supervisor.info(service, from), to: supervisor.info(service, to) };
  }
}

async function withTimeout(timeoutMs: number, name: string, work: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new TenementError('startup_timeout', `${name} was not healthy within ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  try {
    await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
