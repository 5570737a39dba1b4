/**
 * The real Supervisor for unit tests: a TOML text → config, SQLite store in a temp folder, event
 * bus, process runtime, port allocator; booted, and shut down (then the folder removed) by t.after.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/core/events.js';
import type { LifecycleEvent, StateChangeEvent } from '../../src/core/events.js';
import { PortAllocator } from '../../src/runtime/ports.js';
import { ProcessRuntime } from '../../src/runtime/process.js';
import type { LimitsProvider } from '../../src/runtime/runtime.js';
import { openDb } from '../../src/store/db.js';
import type { Db } from '../../src/store/db.js';
import { InstanceStore } from '../../src/store/instances.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';

export interface RealSupervisor {
  supervisor: Supervisor;
  events: EventBus;
  /** Every lifecycle and state event since boot, in order. */
  lifecycle: LifecycleEvent[];
  states: StateChangeEvent[];
  db: Db;
  /** The folder tenement.toml is read from; data lives in its data/. */
  dir: string;
}

export interface StartSupervisorOptions {
  /** Use this folder (e.g. one holding a previous server's store); the caller removes it. */
  dir?: string;
  /** Cgroups for the runtime (limits, freezing); default none. */
  limits?: LimitsProvider;
  /** Memory available (MiB), instead of the host's MemAvailable. */
  memAvailableMb?: () => Promise<number | undefined>;
}

export async function startSupervisor(t: TestContext, toml: string, options: StartSupervisorOptions = {}): Promise<RealSupervisor> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tenement-sup-'));
  const config = parseConfig(toml, join(dir, 'tenement.toml'));
  const db = openDb(join(config.settings.dataDir, 'tenement.db'));
  const events = new EventBus();
  const lifecycle: LifecycleEvent[] = [];
  const states: StateChangeEvent[] = [];
  events.on('lifecycle', (e) => lifecycle.push(e));
  events.on('state', (e) => states.push(e));
  const runtime = new ProcessRuntime(options.limits === undefined ? {} : { limits: options.limits });
  const supervisor = new Supervisor({
    config, events, store: new InstanceStore(db), ports: new PortAllocator(config.settings.portRange),
    runtimes: { process: runtime, namespace: runtime, sandbox: runtime },
    logger: { info: () => undefined, warn: () => undefined },
    ...(options.memAvailableMb === undefined ? {} : { memAvailableMb: options.memAvailableMb }),
  });
  // One hook, in this order: nothing may write into the folder once it is being removed.
  t.after(async () => {
    await supervisor.shutdown();
    if (db.open) db.close();
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  });
  await supervisor.boot();
  return { supervisor, events, lifecycle, states, db, dir };
}
