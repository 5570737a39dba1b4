/**
 * systemd socket activation (sd_listen_fds(3)): when the service manager passes a listening socket
 * (LISTEN_PID is this process, LISTEN_FDS >= 1), `ten serve` serves on fd 3 instead of binding, so
 * the port stays open — connections wait in its backlog — while the server restarts.
 * @module
 */

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
