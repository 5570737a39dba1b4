/**
 * One process start for an instance: its data dir (owned by its tenant user), the spawn spec from its template (env with
 * PORT, HOST, DATA_DIR...), and the output files' fds handed to the child (and closed here after).
 * @module
 */
import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config, ServiceConfig } from '../config/types.js';
import { buildInstanceEnv, instanceDataDir } from '../config/instance-env.js';
import { formatInstanceName } from '../core/names.js';
import type { OutputStream, RunningProcess, Runtime } from '../runtime/runtime.js';
import { checkAppDataDir, prepareDataDir, type TenantUsers } from './tenant-users.js';

export async function startInstanceProcess(
  ctx: { readonly config: Config; readonly users?: TenantUsers | undefined },
  runtime: Runtime,
  svc: ServiceConfig,
  id: string,
  port: number,
  fds: { stdout: number; stderr: number } | undefined,
  onLine: (stream: OutputStream, line: string) => void,
): Promise<RunningProcess> {
  const dataDir = instanceDataDir(ctx.config.settings, svc.name, id);
  try {
    const env = buildInstanceEnv(ctx.config, svc, id, port);
    const appDir = resolve(svc.workdir, env.DATA_DIR ?? dataDir);
    const tenant = ctx.users?.userFor(svc, id);
    checkAppDataDir(svc, id, dataDir, appDir, tenant);
    const user = await prepareDataDir(dataDir, tenant, appDir);
    return await runtime.start({
      instance: formatInstanceName(svc.name, id),
      service: svc.name,
      id,
      argv: svc.argv,
      cwd: svc.workdir,
      env,
      port,
      dataDir,
      memoryLimitMb: svc.memoryLimitMb,
      cpuShares: svc.cpuShares,
      pidsLimit: svc.pidsLimit, user,
      freezable: svc.freezeAfterMs > 0,
      onLine,
      ...(fds === undefined ? {} : { outputFds: fds }),
    });
  } finally {
    // The child has its own copies now; ours would keep nothing but the files open.
    if (fds !== undefined) for (const fd of [fds.stdout, fds.stderr]) closeSync(fd);
  }
}
