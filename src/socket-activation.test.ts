// Which passed socket is which port: by LISTEN_FDNAMES when they are named http/https, else in
// order (the units `ten install` writes pass HTTP first); and only for the process they are for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeListenFds } from './socket-activation.js';

const env = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ LISTEN_PID: '42', ...vars });

test('passed sockets are the HTTP port, then the HTTPS port, unless their names say otherwise', () => {
  assert.deepEqual([...takeListenFds(env({ LISTEN_FDS: '1' }), 42)], [['http', 3]]);
  assert.deepEqual([...takeListenFds(env({ LISTEN_FDS: '2', LISTEN_FDNAMES: 'tenement.socket:tenement.socket' }), 42)], [['http', 3], ['https', 4]]);
  assert.deepEqual([...takeListenFds(env({ LISTEN_FDS: '2', LISTEN_FDNAMES: 'https:http' }), 42)], [['https', 3], ['http', 4]]);
  assert.deepEqual([...takeListenFds(env({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'https' }), 42)], [['https', 3]]);
});

test('sockets passed to another process, or none, are not taken, and the variables never reach tenants', () => {
  const vars = env({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'http' });
  assert.equal(takeListenFds(vars, 7).size, 0);
  assert.deepEqual(Object.keys(vars), []);
  assert.equal(takeListenFds(env({ LISTEN_FDS: '0' }), 42).size, 0);
  assert.equal(takeListenFds(env({ LISTEN_FDS: 'x' }), 42).size, 0);
});
