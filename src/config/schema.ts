/**
 * The shape of tenement.toml (docs/configuration.md, checked against this file) as zod schemas: keys spelled as in the file, every default
 * beside its key, unknown keys refused. Messages say what is allowed; load.ts adds file and key.
 * Each table's transform gives the form the server uses (times in ms, `command` split into argv):
 * config/types.ts is that output, so a key is declared here and nowhere else.
 * @module
 */
import { isIP } from 'node:net';
import { parse as parseShellWords } from 'shell-quote';
import * as z from 'zod';
import { DASHBOARD_LABEL, NAME_PATTERN, NAME_RULE } from '../core/names.js';
import { TEMPLATE_VARIABLES, findUnknownVariables } from './interpolate.js';
import { readSystemUsers } from './system-users.js';

export const ISOLATIONS = ['process', 'namespace', 'sandbox'] as const;
export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
/** The variables tenement sets for every instance (instance-env.ts); refused in `env`, DATA_DIR excepted. */
export const FIXED_ENV_KEYS = ['PORT', 'HOST', 'TENEMENT_INSTANCE'] as const;
export const LETSENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** A TOML table whose unknown keys are errors listing the allowed ones. */
function table<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys'
      ? `unknown key ${iss.keys.map((key) => JSON.stringify(key)).join(', ')} (allowed: ${allowed})`
      : undefined),
  });
}

// Times in the file are seconds, fractions allowed; load.ts converts them to ms.
const seconds = z.number().nonnegative();
const positiveSeconds = z.number().positive();
const count = z.int().nonnegative();
const positiveInt = z.int().positive();
const port = z.int().min(1024).max(65535);
/** A uid/gid tenants may get: never root, never the 32-bit -1 that means "unchanged". */
const tenantId = z.int().min(1).max(4294967294);
export const DEFAULT_UID_RANGE: readonly [number, number] = [61184, 65519];

/** A `[service.X]` or `[instances]` key: one host label (docs/configuration.md#names). */
const serviceName = z.string().regex(NAME_PATTERN, { error: `invalid name: use ${NAME_RULE}` });
const instanceId = z.string().regex(NAME_PATTERN, {
  error: (iss) => `invalid id ${JSON.stringify(iss.input)}: use ${NAME_RULE}`,
});

/** A path prefix ("/health") or a User-Agent substring ("UptimeRobot"). */
const idleIgnoreEntry = z.string()
  .min(1)
  .max(200, { error: 'must be at most 200 characters' })
  .regex(/^[\x20-\x7e]+$/, { error: 'must be printable ASCII: a path starting with "/" or a User-Agent substring' });

const envName = z.string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'invalid variable name: use letters, digits and "_", not starting with a digit' })
  .refine((key) => !(FIXED_ENV_KEYS as readonly string[]).includes(key), {
    error: `is set by tenement for every instance (${FIXED_ENV_KEYS.join(', ')}) and cannot be overridden`,
  });

const envTemplate = z.string().superRefine((value, ctx) => {
  const [unknown] = findUnknownVariables(value);
  if (unknown !== undefined) {
    const known = TEMPLATE_VARIABLES.map((v) => `{${v}}`);
    ctx.addIssue({ code: 'custom', message: `unknown template variable {${unknown}} (use ${known.slice(0, -1).join(', ')} or ${known.at(-1)})` });
  }
});

/** An IPv4 or IPv6 address, or a CIDR block of them (`10.0.0.0/8`, `::1/128`). */
const cidr = z.string().refine((value) => {
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}, { error: (iss) => `invalid CIDR ${JSON.stringify(iss.input)}: use an address or address/bits, e.g. "10.0.0.0/8" or "::1"` });

const toMs = (secondsValue: number): number => Math.round(secondsValue * 1000);

/** One path, or several paired by position with the other key (`cert_file` ↔ `key_file`). */
const pemFiles = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'expected a file path or an array of file paths' });

const TlsSchema = table({
  enabled: z.boolean().default(false),
  domain: z.string().min(1).optional(),
  https_port: z.int().min(1).max(65535).default(443),
  acme_email: z.string().min(1).optional(),
  // No default here: the transform fills Let's Encrypt in, so "set together with cert_file" can be told.
  acme_directory: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  orders_per_hour: positiveInt.default(20),
  renewal_window_ratio: z.number().gt(0).lt(1).default(1 / 3),
  cert_file: pemFiles.optional(),
  key_file: pemFiles.optional(),
}).superRefine((tls, ctx) => {
  if (tls.enabled && tls.domain === undefined) ctx.addIssue({ code: 'custom', path: ['domain'], message: 'missing: required when enabled = true' });
  const certs = tls.cert_file === undefined ? 0 : [tls.cert_file].flat().length;
  const keys = tls.key_file === undefined ? 0 : [tls.key_file].flat().length;
  if (certs !== keys) {
    ctx.addIssue({ code: 'custom', path: [certs > keys ? 'key_file' : 'cert_file'], message: `${certs} cert_file and ${keys} key_file: give one key_file per cert_file, in the same order` });
  }
  if (certs > 0) {
    const acmeKey = tls.acme_directory !== undefined ? 'acme_directory' : tls.acme_email !== undefined ? 'acme_email' : undefined;
    if (acmeKey !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['cert_file'], message: `cannot be used with ${acmeKey}: choose ACME certificates or your own (cert_file + key_file), not both` });
    }
  }
}).transform((t) => {
  const keyFiles = t.key_file === undefined ? [] : [t.key_file].flat();
  return {
    enabled: t.enabled,
    domain: t.domain?.toLowerCase(),
    httpsPort: t.https_port,
    acmeEmail: t.acme_email,
    acmeDirectory: t.acme_directory ?? LETSENCRYPT_DIRECTORY,
    /** New ACME orders allowed in any hour, renewals included. */
    ordersPerHour: t.orders_per_hour,
    /** Renew when less than this fraction of a certificate's lifetime is left. */
    renewalWindowRatio: t.renewal_window_ratio,
    /** The user's own certificates (empty: ACME on demand); paths made absolute and checked by load.ts. */
    certificates: (t.cert_file === undefined ? [] : [t.cert_file].flat()).map((certFile, i) => ({
      certFile,
      keyFile: keyFiles[i]!,
      /** Where the pair was configured, for messages: `settings.tls.cert_file[1]`. */
      key: `settings.tls.cert_file${Array.isArray(t.cert_file) ? `[${i}]` : ''}`,
    })),
  };
});

const SettingsSchema = table({
  data_dir: z.string().min(1).default('./data'),
  health_check_interval: positiveSeconds.default(10),
  max_restarts: count.default(3),
  restart_window: positiveSeconds.default(300),
  // 0 = restart at once (the original tenement's configs use it).
  backoff_base_ms: count.default(1000),
  backoff_max_ms: positiveInt.default(60000),
  port_range: z.tuple([port, port], { error: 'expected [low, high]: two ports from 1024 to 65535' })
    .refine(([low, high]) => low < high, { error: 'the low port must be below the high port' })
    .default([30000, 40000]),
  log_retention_days: positiveInt.default(7),
  log_retention_mb: positiveInt.default(100),
  public_metrics: z.boolean().default(false),
  max_connections: positiveInt.default(10000),
  trusted_proxies: z.array(cidr).default([]),
  max_sse_clients: positiveInt.default(100),
  auto_spawn_per_minute: count.default(10),
  min_free_mb: count.default(128),
  uid_range: z.tuple([tenantId, tenantId], { error: 'expected [low, high]: two ids from 1 to 4294967294' })
    .refine(([low, high]) => low <= high, { error: 'the low id must not be above the high id' })
    .default([...DEFAULT_UID_RANGE]),
  // Unset: fence where the host can; true: required (start fails without it); false: off.
  port_fence: z.boolean().optional(),
  tls: TlsSchema.prefault({}),
}).refine((s) => s.backoff_max_ms >= s.backoff_base_ms, {
  path: ['backoff_max_ms'],
  error: 'must be at least backoff_base_ms',
}).transform((s) => ({
  /** Holds tenement.db, api_token and `{service}/{id}` data dirs; made absolute by load.ts. */
  dataDir: s.data_dir,
  healthCheckIntervalMs: toMs(s.health_check_interval),
  maxRestarts: s.max_restarts,
  restartWindowMs: toMs(s.restart_window),
  backoffBaseMs: s.backoff_base_ms,
  backoffMaxMs: s.backoff_max_ms,
  portRange: s.port_range,
  logRetentionDays: s.log_retention_days,
  logRetentionMb: s.log_retention_mb,
  publicMetrics: s.public_metrics,
  /** Open client connections the front server holds at most; more get 503 and are closed. */
  maxConnections: s.max_connections,
  /** Peers (addresses or CIDR blocks) whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  trustedProxies: s.trusted_proxies,
  /** Open `/api/events` + `/api/logs/stream` clients at once. */
  maxSseClients: s.max_sse_clients,
  /** New auto-spawn registrations per client address per minute; 0 = no limit. */
  autoSpawnPerMinute: s.auto_spawn_per_minute,
  /** Frozen instances are stopped, longest frozen first, while MemAvailable is below this (MiB); 0 = never. */
  minFreeMb: s.min_free_mb,
  /** Where tenant uids/gids are allocated from (when ten serve runs as root). */
  uidRange: s.uid_range,
  /** undefined: fence the port range where the host can (the default); true: required; false: off. */
  portFence: s.port_fence,
  tls: s.tls,
}));

/** `[service.X.rollout]`: when a cohort of `ten rollout` or a step of `ten deploy --canary` fails. */
const RolloutSchema = table({
  max_error_rate: z.number().min(0).max(1).default(0.05),
  max_p95_ratio: z.number().min(1).default(2),
  min_requests: count.default(20),
});

/** A `[service.X]` table as written (defaults filled in): what `GET /api/config` shows. */
const ServiceFileSchema = table({
  command: z.string({ error: (iss) => (iss.input === undefined ? 'missing: the program to run, e.g. command = "python3 app.py"' : undefined) })
    .regex(/\S/, { error: 'must not be empty' }),
  args: z.array(z.string()).default([]),
  workdir: z.string().min(1).default('.'),
  health: z.string()
    .startsWith('/', { error: (iss) => `must be a path starting with "/" (e.g. "/health"), got ${JSON.stringify(iss.input)}` })
    .optional(),
  isolation: z.enum(ISOLATIONS).default('process'),
  idle_timeout: seconds.default(300),
  startup_timeout: positiveSeconds.default(10),
  request_timeout: positiveSeconds.default(30),
  stop_timeout: seconds.default(10),
  restart: z.enum(RESTART_POLICIES).default('on-failure'),
  storage_persist: z.boolean().default(true),
  memory_limit_mb: positiveInt.optional(),
  cpu_shares: z.int().min(1).max(10000).optional(),
  storage_quota_mb: positiveInt.optional(),
  pids_limit: positiveInt.optional(),
  user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/, { error: 'expected a user name from /etc/passwd' }).optional(),
  auto_spawn: z.boolean().default(false),
  max_instances: positiveInt.default(1000),
  env: z.record(envName, envTemplate).default({}),
  freeze_after: seconds.default(0),
  wake_page_after: seconds.default(1),
  wake_page: z.string().min(1).optional(),
  idle_ignore: z.array(idleIgnoreEntry).max(100).default([]),
  rollout: RolloutSchema.prefault({}),
}).refine((s) => s.freeze_after === 0 || s.idle_timeout === 0 || s.freeze_after < s.idle_timeout, {
  path: ['freeze_after'],
  error: 'must be below idle_timeout (at idle_timeout a frozen instance is stopped)',
});
export type ServiceFile = z.output<typeof ServiceFileSchema>;
/** Every key of a `[service.X]` table, in file order. */
export const SERVICE_KEYS = Object.keys(ServiceFileSchema.shape) as Array<keyof ServiceFile>;

const ServiceSchema = ServiceFileSchema.transform((s, ctx) => ({
  /** argv[0] and its arguments: `command` shell-split, or `command` + `args`. */
  argv: s.args.length > 0 ? [s.command, ...s.args] : splitCommand(s.command, ctx),
  /** Made absolute by load.ts (relative paths resolve against the config file's folder). */
  workdir: s.workdir,
  /** Health path such as `/health`; undefined = readiness is a TCP connect. */
  health: s.health,
  isolation: s.isolation,
  /** 0 = never idle. */
  idleTimeoutMs: toMs(s.idle_timeout),
  startupTimeoutMs: toMs(s.startup_timeout),
  requestTimeoutMs: toMs(s.request_timeout),
  stopTimeoutMs: toMs(s.stop_timeout),
  restart: s.restart,
  storagePersist: s.storage_persist,
  memoryLimitMb: s.memory_limit_mb,
  cpuShares: s.cpu_shares,
  storageQuotaMb: s.storage_quota_mb,
  /** undefined: the default (512) where the host has the pids controller; set: required. */
  pidsLimit: s.pids_limit,
  /** `user = "name"`: run as this existing user instead of a tenant uid of its own. */
  user: s.user === undefined ? undefined : systemUser(s.user, ctx),
  autoSpawn: s.auto_spawn,
  maxInstances: s.max_instances,
  /** Values may hold `{name} {id} {data_dir} {port}`; validated here, filled at spawn. */
  env: s.env,
  /** ms without traffic before the instance's cgroup is frozen; 0 = never frozen. */
  freezeAfterMs: toMs(s.freeze_after),
  /** ms a browser navigation waits for a wake before it gets the waiting page; 0 = never. */
  wakePageAfterMs: toMs(s.wake_page_after),
  /** The waiting page's HTML with `{{placeholders}}`; undefined = built in. Here the file as written: load.ts reads it. */
  wakePage: s.wake_page,
  /** Requests that neither wake the instance nor keep it awake: path prefixes, and User-Agent words lower-cased. */
  idleIgnore: {
    paths: s.idle_ignore.filter((entry) => entry.startsWith('/')),
    agents: s.idle_ignore.filter((entry) => !entry.startsWith('/')).map((entry) => entry.toLowerCase()),
  },
  /** Thresholds that fail a rollout cohort or a canary step (supervisor/rollout-judge.ts). */
  rollout: {
    /** Highest 5xx share (timeouts count) the moved instances may have above the others'. */
    maxErrorRate: s.rollout.max_error_rate,
    /** Highest p95 latency of the moved instances as a multiple of the others'. */
    maxP95Ratio: s.rollout.max_p95_ratio,
    /** Requests the moved instances must have served before their error rate and latency count. */
    minRequests: s.rollout.min_requests,
  },
  /** The table as written, for showing the config back. */
  asWritten: s,
}));

/** The host user `name` (uid and primary gid from /etc/passwd), or an issue naming the key. */
function systemUser(name: string, ctx: z.core.$RefinementCtx): { name: string; uid: number; gid: number } | undefined {
  const user = readSystemUsers().byName.get(name);
  if (user === undefined) {
    ctx.issues.push({ code: 'custom', input: name, path: ['user'], message: `no user "${name}" on this host (not in /etc/passwd)` });
  }
  return user;
}

/** Shell-style words (quotes and backslashes work); anything a shell would interpret is refused. */
function splitCommand(command: string, ctx: z.core.$RefinementCtx): string[] {
  // Variables come back as tokens (not expanded to ""), so `$HOME` is refused like `|`.
  const words: string[] = [];
  for (const token of parseShellWords(command, (name) => ({ op: `$${name}` }))) {
    if (typeof token === 'string') {
      words.push(token);
      continue;
    }
    const shown = 'comment' in token ? `#${token.comment}` : 'pattern' in token ? token.pattern : token.op;
    ctx.issues.push({
      code: 'custom', input: command, path: ['command'],
      message: `${JSON.stringify(shown)} needs a shell, and tenement runs the command without one (use command = "sh" and args = ["-c", "..."])`,
    });
    return [];
  }
  return words;
}

const RoutingSchema = table({
  default: z.string().optional(),
  subdomain: z.record(serviceName, z.string()).default({}),
  path: z.record(z.string().startsWith('/', { error: 'must be a path starting with "/"' }), z.string()).default({}),
});

export const ConfigFileSchema = table({
  settings: SettingsSchema.prefault({}),
  service: z.record(serviceName, ServiceSchema).default({}),
  instances: z.record(serviceName, z.array(instanceId)).default({}),
  routing: RoutingSchema.prefault({}),
}).superRefine((file, ctx) => {
  // Everything that names a service must name one that is defined.
  const defined = Object.keys(file.service);
  const requireService = (name: string, path: (string | number)[]) => {
    if (!Object.hasOwn(file.service, name)) {
      const known = defined.length > 0 ? `defined: ${defined.join(', ')}` : 'no service is defined';
      ctx.addIssue({ code: 'custom', path, message: `no [service.${name}] in this file (${known})` });
    }
  };
  const reserved = `is reserved: ${DASHBOARD_LABEL}.{domain} is the dashboard's own host`;
  if (Object.hasOwn(file.service, DASHBOARD_LABEL)) ctx.addIssue({ code: 'custom', path: ['service', DASHBOARD_LABEL], message: `the service name "${DASHBOARD_LABEL}" ${reserved}` });
  if (Object.hasOwn(file.routing.subdomain, DASHBOARD_LABEL)) ctx.addIssue({ code: 'custom', path: ['routing', 'subdomain', DASHBOARD_LABEL], message: `the subdomain "${DASHBOARD_LABEL}" ${reserved}` });
  for (const [name, ids] of Object.entries(file.instances)) {
    requireService(name, ['instances', name]);
    const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
    if (repeated !== undefined) ctx.addIssue({ code: 'custom', path: ['instances', name], message: `id "${repeated}" is listed twice` });
  }
  if (file.routing.default !== undefined) requireService(file.routing.default, ['routing', 'default']);
  for (const [from, to] of Object.entries(file.routing.subdomain)) requireService(to, ['routing', 'subdomain', from]);
  for (const [from, to] of Object.entries(file.routing.path)) requireService(to, ['routing', 'path', from]);
}).transform((file) => ({
  settings: file.settings,
  services: Object.fromEntries(Object.entries(file.service).map(([name, service]) => [name, { name, ...service }])),
  /** service → ids registered at every boot. */
  instances: file.instances,
  routing: file.routing,
}));

const EXPECTED: Record<string, string> = {
  number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false',
  object: 'a table', record: 'a table', array: 'an array', tuple: 'an array',
};

/** Wording for the issues the schemas above leave generic (wrong type, out of range, not allowed). */
export const describeIssue: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'missing';
      return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      return `${describeValue(iss.input)} is not allowed (use ${listOr(iss.values.map(String))})`;
    case 'too_small':
      if (iss.origin === 'string') return 'must not be empty';
      return `must be ${iss.inclusive ? 'at least' : 'greater than'} ${String(iss.minimum)}, got ${describeValue(iss.input)}`;
    case 'too_big':
      return `must be ${iss.inclusive ? 'at most' : 'less than'} ${String(iss.maximum)}, got ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
};

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 37)}...` : value}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  return value === null || value === undefined ? 'nothing' : 'a table';
}

function listOr(words: string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}
