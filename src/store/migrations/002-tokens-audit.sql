-- API tokens: only the SHA-256 of each token is kept; the token itself is shown once.
CREATE TABLE tokens (
  id          TEXT PRIMARY KEY,            -- public id for token-list / token-revoke, e.g. tok_3f9a1c2b
  hash        BLOB NOT NULL UNIQUE,        -- sha256(token)
  tenant      TEXT,                        -- null = admin; else the instance id it may read
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Every mutation made through the API or token commands.
CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,              -- ms since epoch
  token_id  TEXT,                          -- null when no token was involved (local CLI)
  action    TEXT NOT NULL,                 -- e.g. instance.spawn, route, token.create
  target    TEXT NOT NULL,                 -- e.g. notes:alice, api, tok_3f9a1c2b
  result    TEXT NOT NULL                  -- ok, or the error code
);
CREATE INDEX audit_by_time ON audit (at);
