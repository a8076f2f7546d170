#!/usr/bin/env bash
# Makes sure local PostgreSQL (with pgvector) and Redis are up. Idempotent:
# every step is skipped when its result is already there. Used by `pnpm test`
# and `pnpm stack:local` on machines without a Docker engine.
set -euo pipefail

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGUSER_NAME=${PGUSER_NAME:-postgres}
PGDB=${PGDB:-test}
log() { printf '[ensure-services] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- PostgreSQL -------------------------------------------------------------
if ! pg_isready -h "$PGHOST_ADDR" -p 5432 -q 2>/dev/null; then
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_isready -h "$PGHOST_ADDR" -p 5432 -q && break; sleep 0.5; done
fi

# --- PostgreSQL settings for vector search ------------------------------------
# HNSW scans read thousands of index pages per query: the index must fit in
# shared_buffers (Debian's default, 128MB, holds none of a 100k-vector index;
# ~2 KB per 384-dim vector at m=32). Set once, with one restart, when lower.
PG_SHARED_BUFFERS_MB=${KDB_PG_SHARED_BUFFERS_MB:-1024}
current_mb=$(psql -h "$PGHOST_ADDR" -U "$PGUSER_NAME" -d "$PGDB" -tAc \
  "select setting::bigint * 8 / 1024 from pg_settings where name = 'shared_buffers'" 2>/dev/null || echo 0)
if [ "${current_mb:-0}" -lt "$PG_SHARED_BUFFERS_MB" ]; then
  PGVER=$(ls /etc/postgresql | head -1)
  log "PostgreSQL shared_buffers ${current_mb}MB < ${PG_SHARED_BUFFERS_MB}MB: setting it and restarting"
  echo "shared_buffers = ${PG_SHARED_BUFFERS_MB}MB" | as_root tee "/etc/postgresql/$PGVER/main/conf.d/80-kameleondb.conf" >/dev/null
  as_root pg_ctlcluster --skip-systemctl-redirect "$PGVER" main restart
  for _ in $(seq 1 30); do pg_isready -h "$PGHOST_ADDR" -p 5432 -q && break; sleep 0.5; done
fi

# --- Redis ------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

# --- pgvector -----------------------------------------------------------------
has_vector() {
  psql -h "$PGHOST_ADDR" -U "$PGUSER_NAME" -d "$PGDB" -tAc \
    "select count(*) from pg_available_extensions where name = 'vector'" 2>/dev/null | grep -qx 1
}
if has_vector; then
  log "pgvector available"
else
  log "pgvector missing: building Debian's source package (trixie) against PostgreSQL"
  PGVER=$(ls /etc/postgresql | head -1)
  PG_CONFIG=/usr/lib/postgresql/$PGVER/bin/pg_config
  if [ ! -f /etc/apt/sources.list.d/pgvector-src.sources ]; then
    as_root tee /etc/apt/sources.list.d/pgvector-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  as_root apt-get update -qq
  if [ ! -x "$PG_CONFIG" ] || [ ! -f "$("$PG_CONFIG" --includedir-server 2>/dev/null)/postgres.h" ]; then
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "postgresql-server-dev-$PGVER" >/dev/null
  fi
  work=$(mktemp -d)
  ( cd "$work" && apt-get source --download-only pgvector >/dev/null 2>&1 \
      && tar xzf pgvector_*.orig.tar.gz && cd pgvector-*/ \
      && make -s with_llvm=no PG_CONFIG="$PG_CONFIG" >/dev/null \
      && as_root make -s with_llvm=no install PG_CONFIG="$PG_CONFIG" >/dev/null )
  rm -rf "$work"
  has_vector || { log "pgvector build failed"; exit 1; }
  log "pgvector installed"
fi
psql -h "$PGHOST_ADDR" -U "$PGUSER_NAME" -d "$PGDB" -qc 'CREATE EXTENSION IF NOT EXISTS vector' >/dev/null
