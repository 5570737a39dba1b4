-- Instance output and lifecycle events, one row per line (docs/api.md#logs).
-- seq is assigned by the writer (log-capture) so live followers and stored rows share one order.
CREATE TABLE logs (
  seq      INTEGER PRIMARY KEY,
  at       INTEGER NOT NULL,                                        -- ms since the epoch
  service  TEXT NOT NULL,
  id       TEXT NOT NULL,
  stream   TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr', 'event')),
  line     TEXT NOT NULL
);
CREATE INDEX logs_by_time ON logs (at);
CREATE INDEX logs_by_instance ON logs (service, id, at);

-- External-content FTS: the text is stored once (in logs) and the index points at logs.seq.
-- A contentless index would need the text kept elsewhere anyway to show results, and its rows
-- could not be deleted by retention without the original text; the triggers supply it.
CREATE VIRTUAL TABLE logs_fts USING fts5(line, content = 'logs', content_rowid = 'seq');

CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
  INSERT INTO logs_fts (rowid, line) VALUES (new.seq, new.line);
END;
CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
  INSERT INTO logs_fts (logs_fts, rowid, line) VALUES ('delete', old.seq, old.line);
END;
