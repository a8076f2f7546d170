-- Versions of what a search reads, per entity, for the in-process result
-- cache of every API process (search/ResultCache.ts).
--
-- A search reads the versions of its entities (and the global one, entity '')
-- before its retrievers run and keeps its answer under them; a cached answer
-- is served only while the versions read now are the ones it was kept under.
-- Every statement that writes a row a search could read bumps the version of
-- the row's entity in the writing transaction: records, search rows (text and
-- embedding status), postings, vectors of every space, entity definitions;
-- spaces and vector segments bump the global version. So a version moves
-- exactly when a transaction that changed the entity commits.
--
-- A version is the sum of per-slot counters. A hot row per entity would make
-- every writing transaction of the entity wait on the one before it (as the
-- BM25 statistics did before 000008). Each transaction takes a slot of its
-- own (a transaction-scoped advisory lock, tried and never waited for) and
-- writes only that slot's rows, so two open transactions never write the same
-- row and a writer never waits here. When every slot is held, the transaction
-- writes a row of its own keyed by its transaction id instead. Each commit
-- adds at least 1 and nothing subtracts, and a later snapshot sees every
-- commit an earlier one saw, so an equal sum means no write committed
-- between the two reads. (A max over sequence values would not: a
-- transaction that took a smaller value but committed later leaves the max
-- unchanged.)

CREATE TABLE kdb_result_versions (
  entity  text NOT NULL,
  slot    bigint NOT NULL,
  writes  bigint NOT NULL,
  PRIMARY KEY (entity, slot)
);

CREATE FUNCTION kdb_result_slot() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  held text := current_setting('kdb.result_slot', true);
  slots CONSTANT int := 32;
  -- Arbitrary constant: the advisory lock class of these slots (not the BM25 slots' class).
  lock_class CONSTANT int := 727311012;
  first int := pg_backend_pid() % slots;
  s int;
  own bigint;
BEGIN
  IF held IS NOT NULL AND held <> '' THEN RETURN held::bigint; END IF;
  FOR i IN 0 .. slots - 1 LOOP
    s := (first + i) % slots;
    IF pg_try_advisory_xact_lock(lock_class, s) THEN
      PERFORM set_config('kdb.result_slot', s::text, true);
      RETURN s;
    END IF;
  END LOOP;
  -- Negative: never one of the shared slots, and no other transaction has this id.
  own := -txid_current();
  PERFORM set_config('kdb.result_slot', own::text, true);
  RETURN own;
END $$;

CREATE FUNCTION kdb_bump_result_versions(entities text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  s bigint;
BEGIN
  IF cardinality(entities) = 0 THEN RETURN; END IF;
  s := kdb_result_slot();
  INSERT INTO kdb_result_versions AS v (entity, slot, writes)
  SELECT DISTINCT e, s, 1 FROM unnest(entities) AS e
  ON CONFLICT (entity, slot) DO UPDATE SET writes = v.writes + 1;
END $$;

CREATE FUNCTION kdb_result_versions_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM kdb_bump_result_versions(ARRAY(SELECT DISTINCT entity FROM new_rows));
  RETURN NULL;
END $$;

CREATE FUNCTION kdb_result_versions_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM kdb_bump_result_versions(ARRAY(SELECT DISTINCT entity FROM old_rows));
  RETURN NULL;
END $$;

CREATE FUNCTION kdb_result_versions_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM kdb_bump_result_versions(ARRAY(SELECT entity FROM new_rows UNION SELECT entity FROM old_rows));
  RETURN NULL;
END $$;

-- kdb_entities names its entity `name`.
CREATE FUNCTION kdb_result_versions_entity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN PERFORM kdb_bump_result_versions(ARRAY[OLD.name]);
  ELSIF TG_OP = 'UPDATE' THEN PERFORM kdb_bump_result_versions(ARRAY[OLD.name, NEW.name]);
  ELSE PERFORM kdb_bump_result_versions(ARRAY[NEW.name]);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION kdb_result_versions_global() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM kdb_bump_result_versions(ARRAY['']);
  RETURN NULL;
END $$;

-- The three statement-level triggers that bump the versions of the entities a
-- table's written rows belong to (its `entity` column).
CREATE FUNCTION kdb_watch_result_versions(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  base text := left(replace(tbl::text, '"', ''), 40);
BEGIN
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_result_versions_new()', base || '_rv_ins', tbl);
  EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_result_versions_both()', base || '_rv_upd', tbl);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kdb_result_versions_old()', base || '_rv_del', tbl);
END $$;

SELECT kdb_watch_result_versions('kdb_records');
SELECT kdb_watch_result_versions('kdb_search');
SELECT kdb_watch_result_versions('kdb_postings');
SELECT kdb_watch_result_versions(format('kdb_vectors_%s', id)::regclass) FROM kdb_embedding_spaces ORDER BY id;

-- Row-level: entity definitions change one at a time.
CREATE TRIGGER kdb_entities_rv AFTER INSERT OR UPDATE OR DELETE ON kdb_entities
  FOR EACH ROW EXECUTE FUNCTION kdb_result_versions_entity();
CREATE TRIGGER kdb_embedding_spaces_rv AFTER INSERT OR UPDATE OR DELETE ON kdb_embedding_spaces
  FOR EACH STATEMENT EXECUTE FUNCTION kdb_result_versions_global();
CREATE TRIGGER kdb_vector_segments_rv AFTER INSERT OR UPDATE OR DELETE ON kdb_vector_segments
  FOR EACH STATEMENT EXECUTE FUNCTION kdb_result_versions_global();
