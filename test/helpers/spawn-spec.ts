/**
 * A SpawnSpec for runtime tests and benches: `service:id` running `argv` with PATH, plus PORT, HOST
 * and DATA_DIR when a port is given (what the supervisor would hand a real instance).
 */
import { tmpdir } from 'node:os';
import type { SpawnSpec } from '../../src/runtime/runtime.js';

export type TestSpawnOptions = Partial<SpawnSpec> & { extraEnv?: Record<string, string> };

export function testSpawnSpec(instance: string, argv: readonly string[], options: TestSpawnOptions = {}): SpawnSpec {
  const { extraEnv, ...overrides } = options;
  const [service = 'test', id = 'a'] = instance.split(':');
  const dataDir = overrides.dataDir ?? tmpdir();
  const port = overrides.port ?? 0;
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (port !== 0) Object.assign(env, { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir });
  return {
    instance, service, id, argv, cwd: tmpdir(), port, dataDir,
    env: { ...env, ...extraEnv },
    memoryLimitMb: undefined, cpuShares: undefined, onLine: () => undefined,
    ...overrides,
  };
}
