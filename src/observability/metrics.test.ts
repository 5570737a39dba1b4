// The metrics registry read from real in-memory sources; the text must pass `promtool check metrics`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Config } from '../config/types.js';
import type { InstanceInfo } from '../supervisor/types.js';
import { EventBus } from '../core/events.js';
import { Metrics } from './metrics.js';
import { RequestStats } from '../core/request-stats.js';

function info(id: string, state: InstanceInfo['state']): InstanceInfo {
  return { instance: `notes:${id}`, service: 'notes', id, state, health: 'healthy', health_check_status: null, port: null, pid: null, uptime_s: null, idle_s: null, weight: 100, restarts: 0, isolation: 'process', outdated: false };
}

function setup(t: TestContext): { metrics: Metrics; events: EventBus; stats: RequestStats; instances: InstanceInfo[]; logLines: { stored: number; dropped: number } } {
  const events = new EventBus();
  const stats = new RequestStats();
  const instances = [info('alice', 'running'), info('bob', 'idle')];
  const logLines = { stored: 0, dropped: 0 };
  const config = { services: {} } as unknown as Config;
  const resources = { all: () => [{ service: 'notes', id: 'alice', memoryBytes: 1_048_576, cpuSeconds: 1.5, storageBytes: 0, pid: 42 }][Symbol.iterator]() };
  const metrics = new Metrics({
    supervisor: { list: () => instances, config, instancesOf: () => [] },
    events, stats, logLines, resources,
  });
  metrics.start();
  t.after(() => metrics.close());
  return { metrics, events, stats, instances, logLines };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('the exposition passes promtool and has the documented series', async (t) => {
  const { metrics, events, stats, logLines } = setup(t);
  stats.for('notes', 'alice').record(200, 0.003);
  stats.for('notes', 'alice').record(503, 0.2);
  events.emit('lifecycle', { instance: 'notes:alice', service: 'notes', id: 'alice', kind: 'restart', message: 'crashed; restarting in 1000 ms', at: Date.now() });
  events.emit('lifecycle', { instance: 'notes:bob', service: 'notes', id: 'bob', kind: 'ready', message: 'ready in 800 ms', at: Date.now(), durationMs: 800, cause: 'wake' });
  logLines.stored = 10;
  logLines.dropped = 3;
  const text = await metrics.render();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);

  assert.equal(sample(text, 'tenement_instances{state="running"}'), 1);
  assert.equal(sample(text, 'tenement_instances{state="idle"}'), 1);
  assert.equal(sample(text, 'tenement_instances{state="failed"}'), 0);
  assert.equal(sample(text, 'tenement_requests_total{service="notes",instance="alice",status="2xx"}'), 1);
  assert.equal(sample(text, 'tenement_requests_total{service="notes",instance="alice",status="5xx"}'), 1);
  assert.equal(sample(text, 'tenement_request_duration_seconds_bucket{service="notes",instance="alice",status="2xx",le="0.005"}'), 1);
  assert.equal(sample(text, 'tenement_request_duration_seconds_bucket{service="notes",instance="alice",status="5xx",le="0.1"}'), 0);
  assert.equal(sample(text, 'tenement_request_duration_seconds_count{service="notes",instance="alice",status="5xx"}'), 1);
  assert.equal(sample(text, 'tenement_restarts_total{service="notes",instance="alice"}'), 1);
  assert.equal(sample(text, 'tenement_wakes_total{service="notes",instance="bob"}'), 1);
  assert.equal(sample(text, 'tenement_wake_duration_seconds_bucket{le="1",service="notes"}'), 1);
  assert.equal(sample(text, 'tenement_instance_memory_bytes{service="notes",instance="alice"}'), 1_048_576);
  assert.equal(sample(text, 'tenement_instance_cpu_seconds_total{service="notes",instance="alice"}'), 1.5);
  assert.equal(sample(text, 'tenement_log_lines_total{result="dropped"}'), 3);
  assert.equal(sample(text, 'tenement_proxy_open_connections'), 0);
});

test('the request counter moves with traffic', async (t) => {
  const { metrics, stats } = setup(t);
  const series = 'tenement_requests_total{service="notes",instance="alice",status="2xx"}';
  stats.for('notes', 'alice').record(200, 0.01);
  assert.equal(sample(await metrics.render(), series), 1);
  for (let i = 0; i < 5; i++) stats.for('notes', 'alice').record(204, 0.01);
  assert.equal(sample(await metrics.render(), series), 6);
});

test('a removed instance\'s series disappear', async (t) => {
  const { metrics, events, stats, instances } = setup(t);
  stats.for('notes', 'bob').record(200, 0.01);
  events.emit('lifecycle', { instance: 'notes:bob', service: 'notes', id: 'bob', kind: 'restart', message: 'restarting', at: Date.now() });
  assert.match(await metrics.render(), /instance="bob"/);
  instances.splice(1, 1);
  events.emit('state', { instance: 'notes:bob', service: 'notes', id: 'bob', from: 'running', to: 'gone', at: Date.now() });
  assert.doesNotMatch(await metrics.render(), /instance="bob"/);
});
