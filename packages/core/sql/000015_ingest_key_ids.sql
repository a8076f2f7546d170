-- A streamed ingest writes its ids chunk by chunk: the ids an idempotency key
-- answers with are kept as one row per written chunk (in the ingest's own
-- transaction), so neither the write nor a replay builds one array of a
-- million ids. Rows of keys written before this migration keep their ids in
-- kdb_ingest_keys.ids; new keys leave it empty.
CREATE TABLE kdb_ingest_key_ids (
  entity  text NOT NULL,
  key     text NOT NULL,
  seq     integer NOT NULL,
  ids     uuid[] NOT NULL,
  PRIMARY KEY (entity, key, seq),
  FOREIGN KEY (entity, key) REFERENCES kdb_ingest_keys (entity, key) ON DELETE CASCADE ON UPDATE CASCADE
);
