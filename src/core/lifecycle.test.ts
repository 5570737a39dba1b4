// The lifecycle table: every transition it does not list is refused with a coded internal error,
// and the questions other layers ask agree with the states' meaning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertTransition, canIdle, canSpawn, canTransition, canWake, isAsleep, hasProcess, healthOf, IllegalTransitionError, INSTANCE_STATES,
  isListedByDefault, isPickable, isServing, refusesRequests, requestOutcome, type InstanceState,
} from './lifecycle.js';

/** The lifecycle of docs/lifecycle.md, written out once more so a change to the table is deliberate. */
const ALLOWED: ReadonlyArray<[InstanceState, readonly InstanceState[]]> = [
  ['starting', ['running', 'unhealthy', 'stopped', 'held', 'idle', 'failed', 'frozen']],
  ['running', ['degraded', 'unhealthy', 'idle', 'stopped', 'held', 'starting', 'frozen']],
  ['degraded', ['running', 'unhealthy', 'idle', 'stopped', 'held', 'starting']],
  ['unhealthy', ['starting', 'failed', 'stopped', 'held']],
  ['failed', ['starting', 'stopped', 'held']],
  ['idle', ['starting', 'stopped', 'held']],
  ['stopped', ['starting', 'held', 'idle', 'failed']],
  ['held', ['starting', 'stopped']],
  ['frozen', ['running', 'unhealthy', 'idle', 'stopped', 'held', 'starting']],
];

test('every transition outside the table is refused with an internal IllegalTransitionError', () => {
  let illegal = 0;
  for (const from of INSTANCE_STATES) {
    const allowed = ALLOWED.find(([s]) => s === from)?.[1];
    assert.ok(allowed !== undefined, `${from} has a row`);
    for (const to of INSTANCE_STATES) {
      if (from === to || allowed.includes(to)) {
        assert.equal(canTransition(from, to), true, `${from} -> ${to} is allowed`);
        assert.doesNotThrow(() => assertTransition('notes:alice', from, to));
        continue;
      }
      illegal++;
      assert.equal(canTransition(from, to), false, `${from} -> ${to} is refused`);
      assert.throws(() => assertTransition('notes:alice', from, to), (err: unknown) => {
        assert.ok(err instanceof IllegalTransitionError);
        assert.equal(err.code, 'internal');
        assert.equal(err.from, from);
        assert.equal(err.to, to);
        assert.equal(err.message, `notes:alice: illegal state change ${from} -> ${to}`);
        return true;
      });
    }
  }
  assert.equal(illegal, 30);
});

test('from any state an instance can be stopped, held or started', () => {
  for (const s of INSTANCE_STATES) {
    assert.ok(canTransition(s, 'stopped'), `${s} -> stopped`);
    assert.ok(canTransition(s, 'held'), `${s} -> held`);
    assert.ok(canTransition(s, 'starting'), `${s} -> starting`);
  }
});

test('what a request meets in each state', () => {
  const cases: ReadonlyArray<[InstanceState, ReturnType<typeof requestOutcome>]> = [
    ['running', 'serve'], ['degraded', 'serve'], ['idle', 'wake'], ['stopped', 'wake'],
    ['starting', 'join-start'], ['unhealthy', 'await-restart'], ['held', 'refuse'], ['failed', 'refuse'], ['frozen', 'thaw'],
  ];
  assert.equal(cases.length, INSTANCE_STATES.length);
  for (const [state, outcome] of cases) {
    assert.equal(requestOutcome(state), outcome, state);
    assert.equal(isServing(state), outcome === 'serve', `isServing(${state})`);
    assert.equal(canWake(state), outcome === 'wake', `canWake(${state})`);
    assert.equal(refusesRequests(state), outcome === 'refuse', `refusesRequests(${state})`);
    assert.equal(isAsleep(state), outcome === 'wake' || outcome === 'thaw', `isAsleep(${state})`);
    assert.equal(canIdle(state), outcome === 'serve' || outcome === 'thaw', `canIdle(${state})`);
  }
});

test('listing, spawning, picking, process and health follow the state', () => {
  const cases: ReadonlyArray<[InstanceState, { listed: boolean; spawn: boolean; pick: boolean; process: boolean; health: string }]> = [
    ['starting', { listed: true, spawn: false, pick: false, process: true, health: 'starting' }],
    ['running', { listed: true, spawn: false, pick: true, process: true, health: 'healthy' }],
    ['degraded', { listed: true, spawn: false, pick: true, process: true, health: 'degraded' }],
    ['unhealthy', { listed: true, spawn: false, pick: false, process: true, health: 'unhealthy' }],
    ['failed', { listed: true, spawn: false, pick: false, process: false, health: 'failed' }],
    ['idle', { listed: false, spawn: true, pick: true, process: false, health: 'stopped' }],
    ['stopped', { listed: false, spawn: true, pick: false, process: false, health: 'stopped' }],
    ['held', { listed: true, spawn: false, pick: false, process: false, health: 'stopped' }],
    ['frozen', { listed: true, spawn: false, pick: true, process: true, health: 'frozen' }],
  ];
  for (const [state, want] of cases) {
    assert.deepEqual({
      listed: isListedByDefault(state), spawn: canSpawn(state), pick: isPickable(state), process: hasProcess(state), health: healthOf(state),
    }, want, state);
  }
});

test('a start whose health check answers with an error shows unhealthy; other states keep their health', () => {
  assert.equal(healthOf('starting', 500), 'unhealthy');
  assert.equal(healthOf('starting', null), 'starting');
  assert.equal(healthOf('degraded', 500), 'degraded');
  assert.equal(healthOf('unhealthy', 503), 'unhealthy');
});
