// The per-address budget for new auto-spawn registrations: counted per window, per address (IPv6
// per /64), off at 0, and bounded in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoSpawnLimiter, addressKey } from './auto-spawn-limit.js';

test('an address gets perMinute registrations per window, then none until the next window', () => {
  const limiter = new AutoSpawnLimiter(3);
  const t0 = 1_000_000;
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.take('203.0.113.7', t0)), [true, true, true, false]);
  assert.equal(limiter.take('203.0.113.7', t0 + 59_999), false, 'still the same minute');
  assert.equal(limiter.take('198.51.100.1', t0), true, 'another address has its own budget');
  assert.equal(limiter.take('203.0.113.7', t0 + 60_000), true, 'a new minute, a new budget');
});

test('IPv6 addresses of one /64 share a budget; IPv4-mapped ones count as IPv4', () => {
  const limiter = new AutoSpawnLimiter(2);
  assert.equal(limiter.take('2001:db8:1:2::1', 0), true);
  assert.equal(limiter.take('2001:db8:1:2:ffff:0:0:9', 0), true);
  assert.equal(limiter.take('2001:0db8:0001:0002::abcd', 0), false, 'same /64, spelled differently');
  assert.equal(limiter.take('2001:db8:1:3::1', 0), true, 'the next /64');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
});

test('0 turns the limit off', () => {
  const limiter = new AutoSpawnLimiter(0);
  for (let i = 0; i < 1000; i++) assert.equal(limiter.take('192.0.2.1', 0), true);
});

test('memory is bounded: when every remembered address is in its window, new addresses wait', () => {
  const limiter = new AutoSpawnLimiter(1, { maxAddresses: 3 });
  assert.deepEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((a) => limiter.take(a, 0)), [true, true, true, false]);
  // Once the old windows are over they are forgotten and make room.
  assert.equal(limiter.take('192.0.2.4', 60_000), true);
});
