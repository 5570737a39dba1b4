-- The service template (JSON) the live process was started from, so that a server adopting it
-- after a restart knows whether it runs an outdated one (and with which stop_timeout, health...).
ALTER TABLE instances ADD COLUMN template TEXT;
