-- Idempotent ingest: a client sends `Idempotency-Key` with a records request
-- and may retry it after any failure (timeout, lost answer, API killed). The
-- key row commits in the transaction that writes the records, so a key is
-- either attached to the whole request's records or to nothing; a retry of a
-- committed request gets the same ids back and writes nothing. The hash of
-- the validated records tells a retry from a different request reusing a key.
CREATE TABLE kdb_ingest_keys (
  entity        text NOT NULL,
  key           text NOT NULL,
  request_hash  text NOT NULL,
  ids           uuid[] NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entity, key)
);
CREATE INDEX kdb_ingest_keys_created_idx ON kdb_ingest_keys (created_at);
