-- `ten rollout`: each service's current or most recent rollout, and the instances it plans to move
-- with the template each ran before (so a rollback after a server restart knows where to go back).
CREATE TABLE rollouts (
  service TEXT PRIMARY KEY,
  cohorts TEXT NOT NULL,            -- JSON array of cumulative percentages
  interval_ms INTEGER NOT NULL,
  state TEXT NOT NULL,              -- running | paused | succeeded | rolled_back | aborted
  cohort INTEGER NOT NULL,          -- 0-based index of the cohort in progress (or last reached)
  reason TEXT,
  message TEXT,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE rollout_instances (
  service TEXT NOT NULL REFERENCES rollouts(service) ON DELETE CASCADE,
  id TEXT NOT NULL,
  position INTEGER NOT NULL,        -- order of the moves
  previous_template TEXT NOT NULL,  -- JSON of the template it ran when the rollout began
  moved_at INTEGER,                 -- null until it runs (healthy) on the new template
  PRIMARY KEY (service, id)
);
