/**
 * The loaded, validated configuration: what every other layer reads. Times are in ms here
 * (the file speaks seconds; config/load.ts converts once). Paths are absolute.
 * @module
 */

export type Isolation = 'process' | 'namespace' | 'sandbox';
export type RestartPolicy = 'always' | 'on-failure' | 'never';

export interface TlsSettings {
  readonly enabled: boolean;
  readonly domain: string | undefined;
  readonly acmeEmail: string | undefined;
  readonly acmeDirectory: string;
}

export interface Settings {
  /** Absolute; holds tenement.db, api_token and `{service}/{id}` data dirs. */
  readonly dataDir: string;
  readonly healthCheckIntervalMs: number;
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly portRange: readonly [number, number];
  readonly logRetentionDays: number;
  readonly logRetentionMb: number;
  readonly publicMetrics: boolean;
  /** Open client connections the front server holds at most; more get 503 and are closed. */
  readonly maxConnections: number;
  /** Peers (CIDR blocks) whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  readonly trustedProxies: readonly string[];
  readonly tls: TlsSettings;
}

export interface ServiceConfig {
  readonly name: string;
  /** argv[0] and its arguments: `command` shell-split, or `command` + `args`. */
  readonly argv: readonly string[];
  /** Absolute (relative paths resolve against the config file's folder). */
  readonly workdir: string;
  /** Health path such as `/health`; undefined = readiness is a TCP connect. */
  readonly health: string | undefined;
  readonly isolation: Isolation;
  /** 0 = never idle. */
  readonly idleTimeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly restart: RestartPolicy;
  readonly storagePersist: boolean;
  readonly memoryLimitMb: number | undefined;
  readonly cpuShares: number | undefined;
  readonly storageQuotaMb: number | undefined;
  readonly autoSpawn: boolean;
  readonly maxInstances: number;
  /** Values may hold `{name} {id} {data_dir} {port}`; validated at load, filled at spawn. */
  readonly env: Readonly<Record<string, string>>;
}

export interface RoutingConfig {
  readonly default: string | undefined;
  readonly subdomain: Readonly<Record<string, string>>;
  readonly path: Readonly<Record<string, string>>;
}

export interface Config {
  /** Absolute path of the file this came from. */
  readonly file: string;
  readonly settings: Settings;
  readonly services: Readonly<Record<string, ServiceConfig>>;
  /** service → ids registered at every boot. */
  readonly instances: Readonly<Record<string, readonly string[]>>;
  readonly routing: RoutingConfig;
}
