-- Entity names as KameleonDB writes them (`Contact`): kept as created, but
-- unique regardless of case, so `Contact` and `contact` cannot both exist.
-- Existing names are lower-case and already unique.
CREATE UNIQUE INDEX kdb_entities_name_lower_idx ON kdb_entities (lower(name));

-- Field constraints. `unique` fields also get one partial unique index each
-- on kdb_records, created with the entity (entityStore.ts).
ALTER TABLE kdb_entities
  ADD COLUMN required_fields text[] NOT NULL DEFAULT '{}',
  ADD COLUMN unique_fields   text[] NOT NULL DEFAULT '{}';
