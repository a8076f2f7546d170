#!/usr/bin/env bash
# A local streaming standby of a PostgreSQL primary, for KDB_SEARCH_DATABASE_URL
# in development, tests and benchmarks (no Docker needed).
#
#   scripts/pg-standby.sh start [PORT]    # base backup + start; prints the standby's URL
#   scripts/pg-standby.sh stop [PORT]     # stops it and removes its data folder
#   scripts/pg-standby.sh status [PORT]   # "running <lsn>" or "stopped" (exit 1)
#
# PORT defaults to $KDB_STANDBY_PORT or 5441. Both commands are idempotent:
# start on a running standby only prints its URL; stop on a missing one does
# nothing. The standby is a `pg_basebackup -R -X stream` of the primary
# ($KDB_STANDBY_PRIMARY_HOST:$KDB_STANDBY_PRIMARY_PORT, default
# 127.0.0.1:5432) into $KDB_STANDBY_DIR (default /var/tmp/kdb-standby-PORT),
# run by `pg_ctl` with the same binaries as the primary (so pgvector is there).
# No replication slot is made: a standby that is stopped and forgotten must
# never hold WAL back on the primary.
#
# The primary needs wal_level >= replica, max_wal_senders > 0 (PostgreSQL
# 15's defaults) and a pg_hba.conf line allowing replication from 127.0.0.1.
# When that line is missing and the primary is a local Debian cluster, this
# script appends `host replication all 127.0.0.1/32 trust` to its pg_hba.conf
# and reloads it (a reload, never a restart); nothing else of the primary is
# changed.
#
# KDB_STANDBY_CPUS (for example `1`) starts the standby under `taskset -c`,
# so a benchmark can stand in for two hosts on one machine.
set -euo pipefail

cmd=${1:-}
PORT=${2:-${KDB_STANDBY_PORT:-5441}}
PRIMARY_HOST=${KDB_STANDBY_PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${KDB_STANDBY_PRIMARY_PORT:-5432}
DIR=${KDB_STANDBY_DIR:-/var/tmp/kdb-standby-$PORT}
CPUS=${KDB_STANDBY_CPUS:-}
BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin
log() { printf '[pg-standby] %s\n' "$*" >&2; }

if ! [[ "$PORT" =~ ^[0-9]{2,5}$ ]] || [ "$PORT" = "$PRIMARY_PORT" ]; then
  log "PORT must be a TCP port other than the primary's ($PRIMARY_PORT); got '$PORT'"
  exit 2
fi
if ! [[ "$PRIMARY_PORT" =~ ^[0-9]{2,5}$ ]]; then
  log "KDB_STANDBY_PRIMARY_PORT must be a TCP port; got '$PRIMARY_PORT'"
  exit 2
fi
if [ -n "$CPUS" ] && ! [[ "$CPUS" =~ ^[0-9]+([,-][0-9]+)*$ ]]; then
  log "KDB_STANDBY_CPUS must be a CPU list such as 1 or 0-1; got '$CPUS'"
  exit 2
fi
case "$DIR" in
  /*/*) ;;
  *) log "KDB_STANDBY_DIR must be an absolute path below a folder; got '$DIR'"; exit 2 ;;
esac

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
url() { printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$PORT" "${1:-postgres}"; }
in_recovery() { psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc 'select pg_is_in_recovery()' 2>/dev/null | grep -qx t; }

stop() {
  if [ -f "$DIR/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DIR" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  # Only a folder this script made (it holds our marker) is removed.
  if [ -f "$DIR/kdb-standby" ]; then rm -rf "$DIR"; fi
}

ensure_replication_hba() {
  local rules
  rules=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -tAc \
    "select count(*) from pg_hba_file_rules where 'replication' = any(database) and type in ('host','hostnossl') and (address is null or address in ('127.0.0.1','all','samehost')) and error is null")
  [ "$rules" != 0 ] && return 0
  local hba
  hba=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -tAc 'show hba_file')
  if [ ! -w "$hba" ]; then
    log "the primary has no pg_hba.conf line for replication from 127.0.0.1 and $hba is not writable here: add 'host replication all 127.0.0.1/32 trust' (or a password rule) and reload it"
    exit 1
  fi
  log "allowing replication from 127.0.0.1 in $hba (reload, no restart)"
  printf '%s\n' '# kameleondb: local streaming standbys (scripts/pg-standby.sh)' 'host replication all 127.0.0.1/32 trust' >>"$hba"
  psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -tAc 'select pg_reload_conf()' >/dev/null
}

start() {
  if in_recovery; then url; return 0; fi
  if pg_isready -h 127.0.0.1 -p "$PORT" -q 2>/dev/null; then
    log "port $PORT answers but is not a standby: pick another port"
    exit 1
  fi
  local level
  level=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -tAc 'show wal_level')
  if [ "$level" = minimal ]; then
    log "the primary runs wal_level=minimal: a standby needs replica (a restart of the primary; this script does not do it)"
    exit 1
  fi
  ensure_replication_hba
  # A folder left by a killed run is rebuilt: a standby that missed WAL without a slot cannot catch up.
  stop
  if [ -e "$DIR" ]; then log "$DIR exists and was not made by this script: remove it or set KDB_STANDBY_DIR"; exit 1; fi
  mkdir -p "$(dirname "$DIR")"
  # -c fast: an immediate checkpoint instead of a spread one (minutes at the default settings).
  # pg_basebackup makes the folder and removes it again when it fails.
  as_pg "$BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DIR" -R -X stream -c fast
  as_pg touch "$DIR/kdb-standby"
  # Debian keeps postgresql.conf and pg_hba.conf out of the data folder: the standby gets its own.
  as_pg tee "$DIR/postgresql.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
hba_file = '$DIR/pg_hba.conf'
ident_file = '$DIR/pg_ident.conf'
hot_standby = on
# Search statements on the standby are never cancelled by vacuum on the primary.
hot_standby_feedback = on
max_connections = 100
shared_buffers = ${KDB_STANDBY_SHARED_BUFFERS:-256MB}
logging_collector = off
CONF
  printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' | as_pg tee "$DIR/pg_hba.conf" >/dev/null
  as_pg touch "$DIR/pg_ident.conf"
  local launch=("$BIN/pg_ctl" -D "$DIR" -l "$DIR/standby.log" -w -t 60 start)
  if [ -n "$CPUS" ]; then as_pg taskset -c "$CPUS" "${launch[@]}" >/dev/null; else as_pg "${launch[@]}" >/dev/null; fi
  for _ in $(seq 1 100); do in_recovery && break; sleep 0.2; done
  if ! in_recovery; then log "the standby did not come up; its log: $DIR/standby.log"; exit 1; fi
  url
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status)
    if in_recovery; then
      printf 'running %s\n' "$(psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc 'select pg_last_wal_replay_lsn()')"
    else
      echo stopped
      exit 1
    fi
    ;;
  *) log "usage: $0 start|stop|status [PORT]"; exit 2 ;;
esac
