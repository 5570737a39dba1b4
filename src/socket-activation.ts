/**
 * Where `ten serve` listens. systemd socket activation (sd_listen_fds(3)): when the service manager
 * passes listening sockets (LISTEN_PID is this process, LISTEN_FDS >= 1), `ten serve` serves on
 * them instead of binding, so the ports stay open — connections wait in their backlog — while the
 * server restarts. In a take-over they come from the running server instead.
 * @module
 */
import type { AddressInfo, Server } from 'node:net';
import { TenementError } from './core/errors.js';

/**
 * The passed sockets by name, 'http' and 'https' (fds 3, 4, …): named by LISTEN_FDNAMES
 * (`FileDescriptorName=`), else in order — the first is the HTTP port, the second the HTTPS one.
 * Empty when none was passed to this process.
 */
export function takeListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Map<string, number> {
  const passed = env.LISTEN_PID === String(pid) ? Number(env.LISTEN_FDS) : 0;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  // Like sd_listen_fds(1): the variables are for this process only, never for the tenants.
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  const fds = new Map<string, number>();
  if (!Number.isInteger(passed)) return fds;
  const isNamed = names.includes('http') || names.includes('https');
  for (let i = 0; i < Math.min(passed, 2); i++) {
    const name = isNamed ? names[i] : ['http', 'https'][i];
    if ((name === 'http' || name === 'https') && !fds.has(name)) fds.set(name, 3 + i);
  }
  return fds;
}

/**
 * Listens on `inherited` (a passed fd, or a listening socket received in a take-over) or else
 * binds; throws the reason (a taken port, one below 1024 without the right) naming the option.
 */
export async function listen(server: Server, port: number, bind: string, option: string, inherited?: number | Server): Promise<number> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const listening = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (inherited === undefined) server.listen(port, bind, listening);
      else if (typeof inherited === 'number') server.listen({ fd: inherited }, listening);
      else server.listen(inherited, listening);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? `port ${port} on ${bind} is already in use`
      : code === 'EACCES' ? `no permission to listen on ${bind}:${port} (ports below 1024 need root or CAP_NET_BIND_SERVICE)`
        : `cannot listen on ${bind}:${port} (${code ?? 'error'})`;
    throw new TenementError('unavailable', why, { hint: `choose another with ${option}` });
  }
  return (server.address() as AddressInfo).port;
}
