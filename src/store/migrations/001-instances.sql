-- Registered instances: survives restarts of `ten serve`.
CREATE TABLE instances (
  service        TEXT NOT NULL,
  id             TEXT NOT NULL,
  desired_state  TEXT NOT NULL DEFAULT 'running',   -- running | stopped | idle | held
  weight         INTEGER NOT NULL DEFAULT 100,
  port           INTEGER,                            -- last port handed out (null without a process)
  pid            INTEGER,                            -- live process group leader, for orphan recovery
  start_time     INTEGER,                            -- /proc/PID/stat starttime of that pid
  failed         INTEGER NOT NULL DEFAULT 0,         -- 1 = gave up after max_restarts
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (service, id)
) WITHOUT ROWID;

-- Restart history, for the restart window and `ten ps`.
CREATE TABLE restarts (
  service  TEXT NOT NULL,
  id       TEXT NOT NULL,
  at       INTEGER NOT NULL,
  reason   TEXT NOT NULL,
  FOREIGN KEY (service, id) REFERENCES instances (service, id) ON DELETE CASCADE
);
CREATE INDEX restarts_by_instance ON restarts (service, id, at);
