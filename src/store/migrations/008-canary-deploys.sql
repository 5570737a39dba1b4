-- Canary deploys (`ten deploy SERVICE:V --canary ...`): the latest one per service, so a server
-- restart resumes a running canary at its step, and the weights a rollback restores are not lost.
CREATE TABLE canary_deploys (
  service TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  state TEXT NOT NULL,
  steps TEXT NOT NULL,            -- JSON array of percentages
  step INTEGER NOT NULL,          -- 1-based step in progress (0 while the version starts)
  interval_ms INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  stable_weights TEXT NOT NULL,   -- JSON {id: weight} of the other versions before the canary
  reason TEXT,
  verdicts TEXT NOT NULL,         -- JSON array: one line per judged step
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
