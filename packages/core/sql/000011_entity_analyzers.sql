-- Keyword analyzers per entity, and the rebuild of an entity's postings
-- when its analyzer changes (core/src/analyzers/rebuildPostings.ts).
--
-- Postings and term statistics of an entity live under its postings key
-- (kdb_postings.entity, kdb_bm25_terms.entity): the entity name for the
-- postings every entity starts with, `name#<generation>` for postings built
-- by a rebuild (names cannot hold `#`). A rebuild writes the new
-- generation under its own key while the old one serves searches; writers
-- write both (keywordIndex.ts). One transaction then switches the entity to
-- the new key and analyzer, and the old generation is dropped. Document
-- counts and total lengths stay keyed by entity name (kdb_bm25_stats,
-- from kdb_search.doc_len): the switch moves every document's new length
-- into kdb_search.doc_len with the total's change, in the same transaction.

ALTER TABLE kdb_entities
  ADD COLUMN analyzer text NOT NULL DEFAULT 'simple' CHECK (analyzer IN ('simple', 'english', 'german')),
  -- NULL: the entity name.
  ADD COLUMN postings_key text,
  ADD COLUMN postings_gen int NOT NULL DEFAULT 0,
  -- Set while a rebuild runs: writers also index under next_postings_key with next_analyzer.
  ADD COLUMN next_analyzer text CHECK (next_analyzer IN ('simple', 'english', 'german')),
  ADD COLUMN next_postings_key text,
  ADD COLUMN analyzer_run uuid;

-- A record has postings under two keys during a rebuild: the lookup of a
-- candidate's postings (keywordTopK's POSTINGS_SQL) filters on the key, and
-- stays index-only with it in the index.
DROP INDEX kdb_postings_record_idx;
CREATE INDEX kdb_postings_record_idx ON kdb_postings (record_id, term) INCLUDE (tf, doc_len, entity);

-- Each record's length under the next generation's analyzer, until the switch copies it to kdb_search.doc_len.
CREATE TABLE kdb_postings_next_len (
  record_id  uuid PRIMARY KEY REFERENCES kdb_search(record_id) ON DELETE CASCADE,
  key        text NOT NULL,
  doc_len    int NOT NULL
);
CREATE INDEX kdb_postings_next_len_key_idx ON kdb_postings_next_len (key);

-- Rebuild runs: their progress, cancel flag and resume point, in Postgres so
-- a run outlives the process driving it (another process resumes it).
CREATE TABLE kdb_analyzer_runs (
  id              uuid PRIMARY KEY,
  entity          text NOT NULL,
  from_analyzer   text NOT NULL,
  to_analyzer     text NOT NULL,
  from_key        text NOT NULL,
  to_key          text NOT NULL,
  state           text NOT NULL CHECK (state IN ('running', 'dropping', 'completed', 'cancelled', 'failed')),
  -- The key whose postings are still to drop (the old one after the switch, the new one after a cancel).
  drop_key        text,
  total           bigint NOT NULL DEFAULT 0,
  processed       bigint NOT NULL DEFAULT 0,
  after_id        uuid,
  cancel_requested boolean NOT NULL DEFAULT false,
  -- host:pid of the process that wrote the last batch.
  driver          text,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  switched_at     timestamptz,
  finished_at     timestamptz
);
CREATE INDEX kdb_analyzer_runs_live_idx ON kdb_analyzer_runs (created_at) WHERE finished_at IS NULL OR drop_key IS NOT NULL;
