/**
 * systemd socket activation (sd_listen_fds(3)): when the service manager passes a listening socket
 * (LISTEN_PID is this process, LISTEN_FDS >= 1), `ten serve` serves on fd 3 instead of binding, so
 * the port stays open — connections wait in its backlog — while the server restarts.
 * @module
 */

/** The first passed socket (fd 3), or undefined when none was passed to this process. */
export function takeListenFd(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const passed = env.LISTEN_PID === String(pid) ? Number(env.LISTEN_FDS) : 0;
  // Like sd_listen_fds(1): the variables are for this process only, never for the tenants.
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return Number.isInteger(passed) && passed >= 1 ? 3 : undefined;
}
