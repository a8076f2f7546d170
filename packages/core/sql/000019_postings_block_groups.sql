-- The heads of the postings blocks in groups (docs/decisions/postings-blocks.md).
--
-- Search read every block head of the query terms, so a common term's
-- first read grew with the records. A group holds the heads of up to 32
-- consecutive blocks of one term of one ingest batch, packed as search
-- reads them (heads: per block first_doc, last_doc as int8, n and the
-- frontier's byte length as int4, the frontier, min_id's 16 bytes), and is
-- itself a head: its doc range, postings, a frontier no posting of its
-- blocks outweighs and their least record id. Search reads the groups and
-- opens only those that can still reach the top k (search/blockTopK.ts).
-- A group is written with its blocks, in the same transaction, and dropped
-- with them.
CREATE TABLE kdb_postings_groups (
  entity     text NOT NULL,
  term       text NOT NULL,
  first_doc  bigint NOT NULL,
  last_doc   bigint NOT NULL,
  blocks     int NOT NULL,
  n          int NOT NULL,
  frontier   bytea NOT NULL,
  min_id     uuid NOT NULL,
  heads      bytea NOT NULL,
  PRIMARY KEY (entity, term, first_doc) INCLUDE (last_doc, blocks, n, frontier, min_id)
);

-- Blocks written before this migration, grouped by 32 in first_doc order
-- per term; the frontier of such a group is its blocks' frontiers side by
-- side (a superset of the pairs that matter: the same best weight).
INSERT INTO kdb_postings_groups (entity, term, first_doc, last_doc, blocks, n, frontier, min_id, heads)
SELECT entity, term, min(first_doc), max(last_doc), count(*), sum(n), string_agg(frontier, ''::bytea ORDER BY first_doc),
       (array_agg(min_id ORDER BY min_id))[1],
       string_agg(int8send(first_doc) || int8send(last_doc) || int4send(n) || int4send(length(frontier)) || frontier || uuid_send(min_id), ''::bytea ORDER BY first_doc)
  FROM (SELECT b.entity, b.term, b.first_doc, b.last_doc, b.n, b.frontier, b.min_id,
               (row_number() OVER (PARTITION BY b.entity, b.term ORDER BY b.first_doc) - 1) / 32 AS g
          FROM kdb_postings_blocks b) x
 GROUP BY entity, term, g;

-- Search no longer reads the blocks' metadata from their index.
ALTER TABLE kdb_postings_blocks DROP CONSTRAINT kdb_postings_blocks_pkey, ADD PRIMARY KEY (entity, term, first_doc);
