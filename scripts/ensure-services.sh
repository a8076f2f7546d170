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

# --- PostgreSQL settings for vector search and bulk loads ---------------------
# HNSW scans read thousands of index pages per query: the index must fit in
# shared_buffers (Debian's default, 128MB, holds none of a 100k-vector index;
# ~2 KB per 384-dim vector at m=24 or 32, so bench:scale's 1M vectors want
# ~2 GB, and 4GB leaves room for the postings read beside them: a 24 GB
# machine's sixth). Set once, with one restart, when lower.
# A 100k-record ingest writes more WAL than the default max_wal_size (1GB)
# lets pass between checkpoints (~540 MB): each checkpoint in a load makes
# the next change of every page log a full page image. 8GB keeps a load
# between two checkpoints (docs/decisions/max-wal-size.md). It only needs a reload.
PG_SHARED_BUFFERS_MB=${KDB_PG_SHARED_BUFFERS_MB:-4096}
PG_MAX_WAL_SIZE=${KDB_PG_MAX_WAL_SIZE:-8GB}
if ! [[ "$PG_MAX_WAL_SIZE" =~ ^[1-9][0-9]*(MB|GB|TB)$ ]]; then
  log "KDB_PG_MAX_WAL_SIZE must be a size in MB, GB or TB such as 8GB or 4096MB; got '$PG_MAX_WAL_SIZE'"
  exit 1
fi
current_mb=$(psql -h "$PGHOST_ADDR" -U "$PGUSER_NAME" -d "$PGDB" -tAc \
  "select setting::bigint * 8 / 1024 from pg_settings where name = 'shared_buffers'" 2>/dev/null || echo 0)
PGVER=$(ls /etc/postgresql | head -1)
conf="/etc/postgresql/$PGVER/main/conf.d/80-kameleondb.conf"
wanted_conf="shared_buffers = $(( current_mb > PG_SHARED_BUFFERS_MB ? current_mb : PG_SHARED_BUFFERS_MB ))MB
max_wal_size = ${PG_MAX_WAL_SIZE}"
if [ "$(cat "$conf" 2>/dev/null)" != "$wanted_conf" ]; then
  printf '%s\n' "$wanted_conf" | as_root tee "$conf" >/dev/null
  if [ "${current_mb:-0}" -lt "$PG_SHARED_BUFFERS_MB" ]; then
    log "PostgreSQL shared_buffers ${current_mb}MB < ${PG_SHARED_BUFFERS_MB}MB: setting it (and max_wal_size ${PG_MAX_WAL_SIZE}), restarting"
    as_root pg_ctlcluster --skip-systemctl-redirect "$PGVER" main restart
    for _ in $(seq 1 30); do pg_isready -h "$PGHOST_ADDR" -p 5432 -q && break; sleep 0.5; done
  else
    log "PostgreSQL max_wal_size ${PG_MAX_WAL_SIZE}: reloading"
    psql -h "$PGHOST_ADDR" -U "$PGUSER_NAME" -d "$PGDB" -tAc "select pg_reload_conf()" >/dev/null
  fi
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
