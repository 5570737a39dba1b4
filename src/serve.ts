/**
 * `ten serve`: the composition root. Wires config → store → observability → runtime → supervisor →
 * proxy + api, listens, boots the instances, and shuts down in order on SIGTERM/SIGINT
 * (stop accepting, stop instances, flush logs, close the store).
 * @module
 */
import { createHash } from 'node:crypto';
import { chmodSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { AddressInfo, Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config/load.js';
import type { Config, Isolation } from './config/types.js';
import { TenementError } from './core/errors.js';
import { EventBus } from './core/events.js';
import { recordLocalServer, removeLocalServer } from './core/local-server.js';
import { DASHBOARD_LABEL, formatInstanceUrl } from './core/names.js';
import { createManagementHandler } from './api/server.js';
import { ensureAdminToken, TOKEN_FILE } from './api/auth.js';
import { logRoutes } from './api/routes/logs.js';
import { DEFAULT_SSE_LIMITS, SseStreams } from './api/sse.js';
import { metricsRoutes } from './api/routes/metrics.js';
import { telemetryRoutes } from './api/routes/telemetry.js';
import { tlsAskRoutes } from './api/routes/tls-ask.js';
import { createLogger } from './observability/logger.js';
import { LogCapture } from './observability/log-capture.js';
import { Metrics } from './observability/metrics.js';
import { RequestStats } from './core/request-stats.js';
import { ResourceSampler } from './observability/resource-sampler.js';
import { parseHost } from './proxy/host.js';
import { createFrontServer } from './proxy/server.js';
import type { Successor } from './proxy/server.js';
import { CgroupLimits, DEFAULT_PIDS_LIMIT } from './runtime/cgroups.js';
import { detectCapabilities, formatCapabilities, formatProtections, type Protections } from './runtime/host-capabilities.js';
import { NamespaceRuntime } from './runtime/namespace.js';
import { instanceCgroupMatch, PortFence } from './runtime/port-fence.js';
import { PortAllocator } from './runtime/ports.js';
import { ProcessRuntime } from './runtime/process.js';
import type { Runtime } from './runtime/runtime.js';
import { SandboxRuntime } from './runtime/sandbox.js';
import { openDb } from './store/db.js';
import { secureDataDir } from './store/file-modes.js';
import { CanaryStore } from './store/canaries.js';
import { InstanceStore } from './store/instances.js';
import { LogStore } from './store/logs.js';
import { CanaryDeploys } from './supervisor/canary.js';
import { Deployments } from './supervisor/deployments.js';
import { enforceStorageQuotas } from './supervisor/quota-enforcement.js';
import { ConfigReloader, type ReloadResult } from './supervisor/reload.js';
import { Rollouts } from './supervisor/rollouts.js';
import { RolloutStore } from './store/rollouts.js';
import { Supervisor } from './supervisor/supervisor.js';
import { listen, takeListenFds } from './socket-activation.js';
import { offerTakeOver } from './takeover/offer.js';
import { connectRunningServer, runTakeOverChild, takeOverChannel } from './takeover/successor.js';
import { OutputDir } from './supervisor/output-files.js';
import { OutputOffsetsSaver } from './supervisor/output-offsets.js';
import { TenantUsers } from './supervisor/tenant-users.js';
import { routedNames } from './tls/routed-names.js';
import type { NameRoutes } from './tls/routed-names.js';
import { createTlsFront, HSTS_HEADERS } from './tls/tls-front.js';
import type { TlsFront } from './tls/tls-front.js';
import { registerTlsMetrics } from './tls/tls-metrics.js';
import type { ServiceChanges } from './supervisor/service-changes.js';

export interface ServeOptions {
  config?: string;
  dataDir?: string;
  port?: number;
  bind?: string;
  domain?: string;
  /** Stop every instance on exit (the old behaviour) instead of leaving them for the next server. */
  stopInstancesOnExit?: boolean;
}

/**
 * Leaving tenants running, the server lets its connections go without a reset
 * (docs/lifecycle.md#restarts): idle keep-alive ones get `idleGraceMs` for one more request,
 * upgraded ones (WebSocket) `tunnelMs`, all of them `maxMs` at most. After a SIGTERM the next
 * server starts only once this one exited (systemd): short. In a take-over it serves already: long.
 */
const DRAIN_ON_EXIT = { idleGraceMs: 1_000, tunnelMs: 5_000, maxMs: 5_000 };
const DRAIN_ON_TAKE_OVER = { idleGraceMs: 5_000, tunnelMs: 30_000, maxMs: 35_000 };

const DASHBOARD_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'dashboard');

export async function serve(options: ServeOptions): Promise<void> {
  // Everything tenement creates (store, tokens, bundles, certificates) is its own alone; the
  // instances get the usual 022 back when they start.
  process.umask(0o077);
  const configFile = options.config ?? 'tenement.toml';
  // A bad config or a taken port is thrown to cli/main, the one place errors become exit codes.
  const config = loadConfig(configFile, { dataDir: options.dataDir });
  // Take-over: a server already runs on this data dir. Re-run as a child with a channel to it.
  const predecessor = takeOverChannel();
  if (predecessor === undefined) {
    const running = await connectRunningServer(config.settings.dataDir);
    if (running !== undefined) {
      process.stdout.write('a ten serve runs on this data dir: taking over from it\n');
      runTakeOverChild(running);
      return;
    }
  }
  const tls = config.settings.tls;
  // With TLS on, the plain port only redirects; it is the standard one unless --port says otherwise.
  const port = options.port ?? (tls.enabled ? 80 : 8080);
  const bind = options.bind ?? '127.0.0.1';
  const domain = (options.domain ?? (tls.enabled ? tls.domain : undefined) ?? 'localhost').toLowerCase();
  const logger = createLogger();
  const out = (line: string): void => void process.stdout.write(`${line}\n`);

  const isRoot = process.getuid?.() === 0;
  refuseUnswitchableUsers(config, isRoot);
  for (const fix of secureDataDir(config.settings.dataDir)) {
    out(`${relative(process.cwd(), fix.path) || '.'} was mode ${octal(fix.from)}: now ${octal(fix.to)}`);
  }
  if (isRoot) hideConfigFromTenants(config.file, out);

  const db = openDb(join(config.settings.dataDir, 'tenement.db'));
  if (ensureAdminToken(db, config.settings.dataDir).created) {
    out(`admin token written to ${join(config.settings.dataDir, TOKEN_FILE)} (the CLI reads it from there)`);
  }

  const events = new EventBus();
  const stats = new RequestStats();
  // One parent group per data dir: two servers on a host never reuse each other's groups.
  const limits = new CgroupLimits({ parent: `tenement.${createHash('sha256').update(config.settings.dataDir).digest('hex').slice(0, 8)}` });
  const runtimes: Record<Isolation, Runtime> = {
    process: new ProcessRuntime({ limits }),
    namespace: new NamespaceRuntime({ dataRoot: config.settings.dataDir, limits }),
    sandbox: new SandboxRuntime({
      stateDir: join(config.settings.dataDir, '.sandbox'), dataRoot: config.settings.dataDir, limits, hiddenFiles: [config.file],
    }),
  };
  const capabilities = await detectCapabilities({ runtimes, limits });
  out(formatCapabilities(capabilities));
  // Never a silent fallback: a service that wants freezing on a host that cannot is a config error.
  const { freezeMissing } = await limits.detect();
  const freezing = Object.values(config.services).find((s) => s.freezeAfterMs > 0);
  if (freezing !== undefined && freezeMissing !== undefined) {
    await limits.removeParent();
    throw new TenementError('invalid_config', `${basename(config.file)}: service.${freezing.name}.freeze_after: this host cannot freeze instances (${freezeMissing})`, {
      hint: 'set freeze_after = 0 for this service, or run tenement where cgroups can freeze',
    });
  }
  const askedPids = Object.values(config.services).find((svc) => svc.pidsLimit !== undefined);
  if (askedPids !== undefined && !capabilities.limits.pids) {
    await limits.removeParent();
    throw new TenementError('isolation_unavailable', `service.${askedPids.name}.pids_limit needs the cgroup pids controller, which this host does not offer`);
  }
  const fence = await startPortFence(config, limits).catch(async (err: unknown) => {
    await limits.removeParent();
    throw err;
  });
  const store = new InstanceStore(db);
  const output = new OutputDir(config.settings.dataDir);
  out(formatProtections({
    uidRange: isRoot ? config.settings.uidRange : undefined,
    cgroupPerInstance: await limits.givesGroups(),
    pidsLimit: capabilities.limits.pids ? DEFAULT_PIDS_LIMIT : undefined,
    portFence: fence instanceof PortFence
      ? { table: fence.table, ports: fence.portRange, sandboxes: fence.instances !== undefined }
      : { off: fence },
  } satisfies Protections));
  const users = new TenantUsers({ store, uidRange: config.settings.uidRange, canSwitch: isRoot });
  const supervisor = new Supervisor({ config, events, store, ports: new PortAllocator(config.settings.portRange), runtimes, users, logger, output });

  // Log writes (inserts, retention, FTS merges, checkpoints) run in LogCapture's writer thread on
  // its own connection; this one only reads logs, and leaves WAL checkpoints (fsyncs) to that thread.
  db.pragma('wal_autocheckpoint = 0');
  const logStore = new LogStore(db);
  const capture = new LogCapture({
    store: logStore, file: join(config.settings.dataDir, 'tenement.db'), events,
    retention: { days: config.settings.logRetentionDays, mb: config.settings.logRetentionMb },
    onError: (err) => logger.warn({ err }, 'log writer'),
  });
  const sampler = new ResourceSampler({ supervisor });
  const metrics = new Metrics({ supervisor, events, stats, logLines: capture, resources: sampler });
  const quota = enforceStorageQuotas(supervisor, events);

  // A rollout and a canary of the same service are never under way at once.
  const changeEngines: ServiceChanges[] = [];
  const rollouts = new Rollouts({ supervisor, store: new RolloutStore(db), stats, engines: changeEngines });
  const reloader = new ConfigReloader(supervisor, configFile, { dataDir: options.dataDir });
  const reload = async (): Promise<ReloadResult> => {
    const result = await reloader.reload();
    out(result.changed ? `config reloaded:\n${result.diff.map((line) => `  ${line}`).join('\n')}` : 'config reloaded: no change');
    return result;
  };
  const sse = new SseStreams({ ...DEFAULT_SSE_LIMITS, maxClients: config.settings.maxSseClients },
    () => logger.info({}, 'dropped an event-stream client that stopped reading'));
  const deployments = new Deployments(supervisor, logger);
  const canaries = new CanaryDeploys({ supervisor, deployments, stats, store: new CanaryStore(db), logger, engines: changeEngines });
  changeEngines.push(rollouts, canaries);
  // Bound once the front server (and its route table) exists.
  let nameRoutes: NameRoutes = () => false;
  const management = createManagementHandler({
    supervisor, reload, rollouts, deployments, canaries, db, events, config, logger, domain, dashboardDir: DASHBOARD_DIR, sse,
    extraRoutes: [
      ...logRoutes({ store: logStore, capture, sse }), ...telemetryRoutes({ supervisor, stats, resources: sampler }), ...metricsRoutes({ metrics }),
      ...tlsAskRoutes({ routes: (name) => nameRoutes(name) }),
    ],
  });
  const server = createFrontServer({ supervisor, domain, stats, management, logger, secureHeaders: tls.enabled ? HSTS_HEADERS : [] });
  nameRoutes = routedNames(domain, config.routing.subdomain, server.routes);

  let tlsFront: TlsFront | undefined;
  if (tls.enabled) {
    const tlsMetrics = registerTlsMetrics(metrics.registry);
    tlsFront = createTlsFront({
      settings: tls, dataDir: config.settings.dataDir, configName: basename(config.file), front: server, management,
      routes: nameRoutes, logger, onOrder: tlsMetrics.onOrder,
      // Pre-wake: an instance's start (or thaw) overlaps the handshake of its first request.
      onServerName: (name) => {
        const target = parseHost(name, domain, config.routing.subdomain);
        if (target.kind === 'instance') supervisor.prewake(target.service, target.id);
      },
    });
    tlsMetrics.attach(tlsFront);
  }
  // What tenement set up on the host (the fence's table, its parent cgroup) goes at exit; the
  // fence stays while instances are left running (the next ten serve replaces it atomically).
  const releaseHost = async (keepFence = false): Promise<void> => {
    if (fence instanceof PortFence && !keepFence) await fence.remove();
    await limits.removeParent();
  };
  const orRelease = async <T>(step: Promise<T>): Promise<T> => step.catch(async (err: unknown) => {
    await releaseHost();
    throw err;
  });
  const capturing = { offsets: undefined as OutputOffsetsSaver | undefined };
  const startWork = async (): Promise<void> => {
    capture.start();
    capturing.offsets = new OutputOffsetsSaver({ supervisor, store, capture, onError: (err) => logger.warn({ err }, 'output offsets') });
    metrics.start();
    sampler.start();
    await supervisor.boot();
    rollouts.resumeAfterBoot();
    canaries.resume();
  };
  // Under systemd socket activation the ports come bound already (--port/--bind are theirs); in a
  // take-over they come from the running server, once it stopped all work and this one adopted its tenants.
  const activated = takeListenFds();
  if (predecessor !== undefined) {
    await orRelease(predecessor.detach());
    await startWork();
  }
  const inherited = (name: string): Promise<number | Server | undefined> =>
    predecessor === undefined ? Promise.resolve(activated.get(name)) : predecessor.listener(name);
  const front = tlsFront?.http ?? server;
  const httpListener = await orRelease(inherited('http'));
  const boundPort = await orRelease(listen(front, port, bind, '--port', httpListener));
  const listenHost = httpListener === undefined ? bind : (front.address() as AddressInfo).address;
  const shownHost = listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost;
  const bareHasTenants = config.routing.default !== undefined || Object.keys(config.routing.path).length > 0;
  let httpsPort: number | undefined;
  if (tlsFront !== undefined) {
    const https = tlsFront.https;
    httpsPort = await orRelease(inherited('https').then((handle) => listen(https, tls.httpsPort, bind, 'https_port in [settings.tls]', handle)));
    const base = `https://${domain}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
    const where = bareHasTenants
      ? `dashboard at ${base.replace('https://', `https://${DASHBOARD_LABEL}.`)}/, API at ${base}/api`
      : `dashboard and API at ${base}/`;
    const source = tlsFront.onDemand === undefined ? 'certificates from cert_file' : `certificates on demand from ${tls.acmeDirectory}`;
    out(`tenement listening on http://${shownHost}:${boundPort} (redirects to HTTPS) and https://${shownHost}:${httpsPort} (${source})`);
    out(`domain ${domain}; ${where}`);
  } else {
    const where = bareHasTenants
      ? `dashboard at http://${DASHBOARD_LABEL}.${domain}:${boundPort}/, API at http://${domain}:${boundPort}/api`
      : `dashboard and API at http://${domain}:${boundPort}/`;
    out(`tenement listening on http://${shownHost}:${boundPort} (domain ${domain}; ${where})`);
  }
  // So a plain `ten ps` on this machine finds this server (and its token file) on its own. The
  // plain-HTTP port serves the API to loopback clients also when TLS is on.
  let localRecord: string | undefined;
  try {
    localRecord = recordLocalServer({
      url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${boundPort}`,
      tokenFile: join(config.settings.dataDir, TOKEN_FILE), dataDir: config.settings.dataDir,
      pid: process.pid, startedAt: new Date().toISOString(),
    });
  } catch (err) {
    logger.warn({ err }, 'cannot record this server for the local CLI: pass --server and --data-dir to ten');
  }

  const successor = (isRunning: boolean): Successor => ({ host: shownHost, port: boundPort, isRunning, ...(httpsPort === undefined ? {} : { tlsPort: httpsPort }) });
  let control: { close(): void } | undefined = undefined;
  let drained: Promise<unknown> = Promise.resolve();
  let drainLimits = DRAIN_ON_EXIT;
  let handedOver: Promise<number> | undefined;
  /**
   * Leaves the tenants to the next server: stop accepting (the connections drain, handing what
   * needs a running server on to the next one), stop every lifecycle action, and store where
   * output was read up to. Resolves to the number of processes left running.
   */
  const handOver = (toRunning: boolean): Promise<number> => handedOver ??= (async () => {
    // During a take-over it stays open, refusing any other until this server exits.
    if (!toRunning) control?.close();
    // Before the instances are detached: that is no failure of a rollout to roll back, and the
    // next server resumes rollouts and canaries from the store.
    rollouts.close();
    canaries.close();
    tlsFront?.stopAccepting();
    drainLimits = toRunning ? DRAIN_ON_TAKE_OVER : DRAIN_ON_EXIT;
    drained = server.drain(drainLimits, successor(toRunning));
    quota.close();
    sampler.close();
    await capturing.offsets?.close();
    const detached = supervisor.detach();
    output.close();
    // Lines read so far are committed before their offsets are: none lost, none stored twice.
    await capture.close();
    store.setOutputOffsets(detached.offsets);
    return detached.left;
  })();
  const drainThenExit = async (exitCode: number, release: (() => Promise<void>) | undefined, last: string): Promise<void> => {
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, drainLimits.maxMs).unref())]);
    await release?.();
    server.closeAllConnections();
    db.close();
    out(last);
    process.exit(exitCode);
  };

  let stopping = false;
  /** A take-over began: from here this server only drains and exits. */
  let isTakenOver = false;
  const shutdown = async (reason: string, exitCode = 0): Promise<void> => {
    if (stopping) {
      out(`${reason} again: exiting now`);
      process.exit(1);
    }
    if (isTakenOver) {
      // The next server is adopting or serves already: the host's cgroups and fence are its own.
      void leave('serving');
      return;
    }
    stopping = true;
    if (localRecord !== undefined) removeLocalServer(localRecord);
    if (options.stopInstancesOnExit !== true) {
      out(`${reason}: leaving instances running for the next ten serve`);
      const left = await handOver(false);
      await drainThenExit(exitCode, () => releaseHost(left > 0),
        left === 0 ? 'tenement stopped' : `tenement stopped; ${left} instances still run and the next ten serve adopts them`);
      return;
    }
    out(`${reason}: stopping instances…`);
    control?.close();
    tlsFront?.close();
    // Before the instances are detached or stopped: that is no failure of a rollout to roll back.
    rollouts.close();
    // Requests in flight get their answers; each connection closes once its exchange ends.
    server.close();
    server.closeIdleConnections();
    quota.close();
    canaries.close();
    sampler.close();
    await capturing.offsets?.close();
    await supervisor.shutdown();
    await releaseHost();
    server.closeAllConnections();
    output.close();
    await capture.close();
    db.close();
    out('tenement stopped');
    process.exit(exitCode);
  };
  /** A take-over ended: the next server serves (or went away after this one had stopped its work). */
  const leave = async (outcome: 'serving' | 'lost'): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (localRecord !== undefined) removeLocalServer(localRecord);
    out(outcome === 'serving'
      ? 'the next ten serve took over: finishing the connections in progress'
      : 'the next ten serve went away during the take-over: leaving instances running for the next start');
    const left = await handOver(true);
    // The cgroups and the port fence are the next server's now.
    await drainThenExit(0, undefined, `tenement stopped; handed over ${left} running instances`);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
  // SIGHUP = `ten reload`; a refused reload leaves everything as it was and says why.
  process.on('SIGHUP', () => {
    reload().catch((err: unknown) => out(`config not reloaded: ${err instanceof TenementError ? err.message : String(err)}`));
  });
  // A bug in tenement itself: stop the instances in order rather than die and leave them behind.
  // (The proxy contains its own failures: a bug there closes the one connection, see src/proxy.)
  const crash = (err: unknown): void => {
    logger.fatal({ err }, 'internal error: shutting down');
    void shutdown('internal error', 1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  if (predecessor === undefined) await startWork();
  else predecessor.serving();
  control = await offerTakeOver({
    dataDir: config.settings.dataDir,
    listeners: () => [{ name: 'http', server: front }, ...(tlsFront === undefined ? [] : [{ name: 'https', server: tlsFront.https }])],
    detach: async () => {
      isTakenOver = true;
      await handOver(true);
    },
    done: (outcome) => void leave(outcome),
    log: out,
  });
  for (const info of supervisor.list()) {
    const url = tlsFront === undefined ? formatInstanceUrl(info, domain, boundPort) : formatInstanceUrl(info, domain, tls.httpsPort, 'https');
    out(`  ${info.instance.padEnd(24)} ${info.state.padEnd(9)} ${url}`);
  }
  const shownDataDir = relative(process.cwd(), config.settings.dataDir);
  const cli = relative(process.cwd(), process.argv[1] ?? 'ten');
  const ten = cli.startsWith('..') || cli === '' ? 'ten' : cli;
  out(localRecord === undefined
    ? `manage it with: ${ten} --server http://${shownHost}:${boundPort} --data-dir ${shownDataDir.startsWith('..') ? config.settings.dataDir : shownDataDir || '.'} ps`
    : `manage it with: ${ten} ps (on this machine ten finds this server by itself)`);
}

/** `user = "name"` needs root to switch to anyone but the server's own user. */
function refuseUnswitchableUsers(config: Config, isRoot: boolean): void {
  if (isRoot) return;
  for (const svc of Object.values(config.services)) {
    if (svc.user !== undefined && svc.user.uid !== process.getuid?.()) {
      throw new TenementError('isolation_unavailable', `service.${svc.name}.user = "${svc.user.name}" needs ten serve to run as root (it can only run instances as itself)`);
    }
  }
}

/** tenement.toml holds every service's env (secrets): readable by instances' users it must not be. */
function hideConfigFromTenants(file: string, out: (line: string) => void): void {
  const mode = statSync(file).mode & 0o7777;
  if ((mode & 0o007) === 0) return;
  chmodSync(file, mode & ~0o007);
  out(`${relative(process.cwd(), file)} was readable by every user (it holds the services' env): now mode ${octal(mode & ~0o007)}`);
}

/** The fence as asked: on where possible by default, required if `port_fence = true`. */
async function startPortFence(config: Config, limits: CgroupLimits): Promise<PortFence | string> {
  if (config.settings.portFence === false) return 'port_fence = false';
  const host = await limits.detect();
  const fence = new PortFence({
    dataDir: config.settings.dataDir,
    portRange: config.settings.portRange,
    instances: instanceCgroupMatch(host.v2Mount, host.v2Root === undefined ? undefined : `${host.v2Root}/${limits.parent}`),
  });
  try {
    await fence.install();
    return fence;
  } catch (err) {
    if (config.settings.portFence === true) throw err;
    return err instanceof Error ? err.message.replace(/^the port fence is unavailable: /, '') : String(err);
  }
}

const octal = (mode: number): string => `0${mode.toString(8).padStart(3, '0')}`;
