/**
 * The management API's wire contract: request schemas (zod) and response shapes. The daemon
 * validates with these; the CLI imports only this file from the daemon side. The original API's
 * spellings (`process` for `service`, `timeout_secs` for `timeout`) are translated here, once.
 * @module
 */
import * as z from 'zod';
import type { ServiceFile } from '../config/schema.js';
import { NAME_PATTERN, NAME_RULE } from '../core/names.js';
import type { InstanceInfo } from '../supervisor/types.js';
import type { Health } from '../core/lifecycle.js';

export type { InstanceInfo } from '../supervisor/types.js';
export type { Health, InstanceState } from '../core/lifecycle.js';
export type { RolloutEvent, RolloutState, RolloutStatus } from '../core/events.js';

/** A service name or instance id (one host label). */
export const NameSchema = z.string().regex(NAME_PATTERN, {
  error: (iss) => `invalid name ${JSON.stringify(iss.input)}: use ${NAME_RULE}`,
});

/** A weight: an integer 0-100 (docs/lifecycle.md). */
export const WeightSchema = z.int({ error: 'weight must be a whole number from 0 to 100' })
  .min(0, { error: 'weight must be a whole number from 0 to 100' })
  .max(100, { error: 'weight must be a whole number from 0 to 100' });

const serviceFields = { service: NameSchema.optional(), process: NameSchema.optional() };

/** Accepts `process` as the original API's spelling of `service` (exactly one of them). */
const hasOneServiceField: [
  (b: { service?: string | undefined; process?: string | undefined }) => boolean,
  { error: string; path: string[] },
] = [
  (b) => (b.service === undefined) !== (b.process === undefined),
  { error: 'give "service" (or its alias "process"), not both', path: ['service'] },
];

/** `POST /api/instances`. `wait`: answer once healthy (or with the failure reason). */
export const SpawnBodySchema = z.strictObject({
  ...serviceFields,
  id: NameSchema,
  weight: WeightSchema.optional(),
  wait: z.boolean().optional(),
}).refine(...hasOneServiceField).transform((b) => ({ service: (b.service ?? b.process)!, id: b.id, weight: b.weight, wait: b.wait ?? false }));
export type SpawnBody = z.input<typeof SpawnBodySchema>;

/** `PUT /api/instances/{name}/weight`. */
export const WeightBodySchema = z.strictObject({ weight: WeightSchema });

/** Optional body of `POST .../start | /restart` (`?wait=true` works too). */
export const StartBodySchema = z.strictObject({ wait: z.boolean().optional() }).optional();
/** Optional body of `POST .../stop` (`?hold=true` works too). */
export const StopBodySchema = z.strictObject({ hold: z.boolean().optional() }).optional();

/** Seconds `deploy` waits for the new version to be healthy unless told otherwise. */
export const DEFAULT_DEPLOY_TIMEOUT_S = 60;

/** Seconds each canary step lasts unless told otherwise. */
export const DEFAULT_CANARY_INTERVAL_S = 60;

const CANARY_STEPS_RULE = 'canary steps must be increasing whole percentages from 1 to 100, e.g. [10,50,100]';

/**
 * `POST /api/deploy`: spawn `service:version`, wait healthy up to `timeout` s, set its weight; with
 * `canary` (percentages), step its share of the traffic instead, `interval` s each, and promote or
 * roll back by itself.
 */
export const DeployBodySchema = z.strictObject({
  ...serviceFields,
  version: NameSchema,
  weight: WeightSchema.optional(),
  timeout: z.number().positive().max(3600).optional(),
  timeout_secs: z.number().positive().max(3600).optional(),
  canary: z.array(z.int({ error: CANARY_STEPS_RULE }).min(1, { error: CANARY_STEPS_RULE }).max(100, { error: CANARY_STEPS_RULE }))
    .min(1, { error: CANARY_STEPS_RULE }).max(20, { error: 'at most 20 canary steps' })
    .refine((steps) => steps.every((p, i) => i === 0 || p > steps[i - 1]!), { error: CANARY_STEPS_RULE })
    .optional(),
  interval: z.number().positive().max(86_400).optional(),
}).refine(...hasOneServiceField)
  .refine((b) => b.canary === undefined || b.weight === undefined, { error: '"weight" does not go with "canary" (a canary ends at weight 100 or 0)', path: ['canary'] })
  .refine((b) => b.canary !== undefined || b.interval === undefined, { error: '"interval" needs "canary"', path: ['interval'] })
  .transform((b) => ({
    service: (b.service ?? b.process)!,
    version: b.version,
    weight: b.weight ?? 100,
    timeoutS: b.timeout ?? b.timeout_secs ?? DEFAULT_DEPLOY_TIMEOUT_S,
    ...(b.canary === undefined ? {} : { canary: { steps: b.canary, intervalS: b.interval ?? DEFAULT_CANARY_INTERVAL_S } }),
  }));
export type DeployBody = z.input<typeof DeployBodySchema>;

/** `POST /api/route`: `from` to weight 0 and `to` to 100 in one store transaction. */
export const RouteBodySchema = z.strictObject({ ...serviceFields, from: NameSchema, to: NameSchema })
  .refine(...hasOneServiceField)
  .refine((b) => b.from !== b.to, { error: '"from" and "to" must be different versions', path: ['to'] })
  .transform((b) => ({ service: (b.service ?? b.process)!, from: b.from, to: b.to }));
export type RouteBody = z.input<typeof RouteBodySchema>;

/**
 * `POST /api/rollouts`: move `service`'s running outdated instances to its current template,
 * cohort by cohort (cumulative percentages), judging each after `interval` seconds.
 * Limits are checked by supervisor/rollout-plan.ts (one message for the API and the CLI).
 */
export const RolloutBodySchema = z.strictObject({
  service: NameSchema,
  cohorts: z.array(z.int()).max(100).optional(),
  interval: z.number().optional(),
});
export type RolloutBody = z.input<typeof RolloutBodySchema>;

/** Every error body: `{"error":{"code","message","hint"?}}`. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

/** `POST /api/instances`: the instance (healthy, with `wait`) and the URL it is reached at. */
export interface SpawnResponse extends InstanceInfo {
  /** `http://{id}.{service}.{domain}:{port}/`, on the port this request came in on. */
  url: string;
}

/** `GET /api/instances/{name}/health`. */
export interface HealthResponse {
  instance: string;
  health: Health;
  /** As in InstanceInfo: the HTTP status of the failing health check, or null. */
  health_check_status: number | null;
  state: InstanceInfo['state'];
}

/** `DELETE /api/instances/{name}`. */
export interface RemoveResponse {
  instance: string;
  removed: true;
  purged: boolean;
}

/** `POST /api/deploy`: the new version, its weight set. */
export interface DeployResponse {
  instance: InstanceInfo;
}

/**
 * `POST /api/deploy` with `canary` (202), `GET /api/deploys/{service}`, one entry of `GET
 * /api/deploys`, and the `deploy` event of `GET /api/events`.
 */
export type { CanaryStatus } from '../core/events.js';

/** `POST /api/reload`: what changed (`+ service web`, `~ notes: env changed — …`), one line each. */
export interface ReloadResponse {
  changed: boolean;
  diff: string[];
}

/** `POST /api/route`: both versions after the swap. */
export interface RouteResponse {
  from: InstanceInfo;
  to: InstanceInfo;
}

/**
 * `GET /api/server` (any valid token): what a client needs to build instance URLs,
 * `http://{id}.{service}.{domain}:{port}/`. `port` is the port the API was reached on.
 */
export interface ServerInfoResponse {
  version: string;
  domain: string;
  port: number;
}

/** An optional key of the file shows as null when it is not set. */
type NullWhenAbsent<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

/**
 * One service of `GET /api/config` (admin): its `[service.X]` table as the server loaded it, every
 * key spelled as in the file (times in seconds, unset keys null), with `command`/`args` as argv.
 */
export type ServiceConfigResponse = {
  name: string;
  argv: string[];
  /** Absolute. */
  workdir: string;
} & NullWhenAbsent<Omit<ServiceFile, 'command' | 'args' | 'workdir'>> & {
  /** Ids registered at every boot (`[instances]`). */
  instances: string[];
};

export interface ConfigResponse {
  services: ServiceConfigResponse[];
}

/** One `event:` of `GET /api/events` (server-sent events): `state` or `lifecycle`. */
export type ApiEventName = 'state' | 'lifecycle' | 'weight' | 'config' | 'rollout' | 'deploy';

/** One line of `GET /api/logs` (an array, oldest first) and one `log` event of `GET /api/logs/stream`. */
export interface LogLine {
  /** Order of arrival; the SSE event id (send it back as Last-Event-ID to resume). */
  seq: number;
  /** ISO 8601, ms precision. */
  time: string;
  instance: string;
  service: string;
  id: string;
  /** `event` = a lifecycle event written by tenement (spawn, ready, crash, ...). */
  stream: 'stdout' | 'stderr' | 'event';
  line: string;
}

/** One instance of `GET /api/telemetry` (an array). */
export type { TelemetryEntry } from '../observability/telemetry.js';
