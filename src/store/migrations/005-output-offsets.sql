-- Where the next server continues reading an instance's output files ({data_dir}/.output): bytes
-- of complete lines already stored. Reset to 0 when a new process starts on fresh files.
ALTER TABLE instances ADD COLUMN stdout_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN stderr_offset INTEGER NOT NULL DEFAULT 0;
