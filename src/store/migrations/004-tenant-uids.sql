-- The uid (and gid, same number) an instance runs as when ten serve is root: allocated from
-- [settings] uid_range on its first start, kept while it is registered, freed by `ten rm`.
ALTER TABLE instances ADD COLUMN uid INTEGER;
CREATE UNIQUE INDEX instances_by_uid ON instances (uid) WHERE uid IS NOT NULL;
