/**
 * Enforces storage_quota_mb: watches the data dir of every instance with a quota while it has a
 * process, announces 80 % as an event, and at 100 % stops the instance and holds it (traffic does not
 * wake it again until the operator runs `ten start`).
 * @module
 */
import { instanceDataDir } from '../config/instance-env.js';
import type { EventBus } from '../core/events.js';
import { StorageQuotaWatcher } from './storage-quota.js';
import { hasProcess } from '../core/lifecycle.js';
import type { SupervisorApi } from './types.js';

const MB = 1024 * 1024;

export function enforceStorageQuotas(supervisor: SupervisorApi, events: EventBus, intervalMs = 5_000): StorageQuotaWatcher {
  const emit = (name: string, kind: 'storage_warning' | 'storage_exceeded', message: string): void => {
    const [service = '', id = ''] = name.split(':');
    events.emit('lifecycle', { instance: name, service, id, kind, message, at: Date.now() });
  };
  const watcher = new StorageQuotaWatcher({
    intervalMs,
    onWarn: (name, used, quota) => emit(name, 'storage_warning', `data dir uses ${(used / MB).toFixed(1)} MB, over 80 % of storage_quota_mb (${quota / MB} MB)`),
    onExceeded: (name, used, quota) => {
      emit(name, 'storage_exceeded', `data dir uses ${(used / MB).toFixed(1)} MB, storage_quota_mb is ${quota / MB} MB: stopped and held until \`ten start\``);
      const [service = '', id = ''] = name.split(':');
      supervisor.stop(service, id, { hold: true }).catch(() => undefined);
    },
  });
  events.on('state', (e) => {
    const quotaMb = supervisor.config.services[e.service]?.storageQuotaMb;
    if (quotaMb === undefined) return;
    if (e.to !== 'gone' && hasProcess(e.to)) {
      if (e.from === null || !hasProcess(e.from)) watcher.watch(e.instance, instanceDataDir(supervisor.config.settings, e.service, e.id), quotaMb);
    } else {
      watcher.unwatch(e.instance);
    }
  });
  return watcher;
}
