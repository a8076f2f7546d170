#!/usr/bin/env bash
# Runs the whole pipeline without Docker: local PostgreSQL (+pgvector) and
# Redis, one API process and KDB_WORKERS worker processes (default 2), the
# same processes docker-compose.yml runs. A process that exits is started
# again, after 1 s, doubling up to 30 s while it keeps dying young (as
# docker-compose's `restart: unless-stopped`). Ctrl-C (or SIGTERM) stops them
# all gracefully. KDB_STACK_SKIP_INSTALL=1 skips the set-up steps (services,
# pnpm, `pnpm install`) on a machine that has them. Worker i serves its
# probes on KDB_METRICS_PORT_BASE + i - 1 (default 9464; 0: any free port).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${KDB_STACK_SKIP_INSTALL:-}" != 1 ]; then
  bash scripts/ensure-services.sh
  bash scripts/ensure-pnpm.sh
  pnpm install --frozen-lockfile --reporter=silent
fi

export KDB_DATABASE_URL=${KDB_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kameleondb}
export KDB_REDIS_URL=${KDB_REDIS_URL:-redis://127.0.0.1:6379}
export KDB_PORT=${KDB_PORT:-8080}
export KDB_MODEL_DIR=${KDB_MODEL_DIR:-$HOME/.cache/kameleondb/models}
if [ -z "${KDB_EMBEDDING_PROVIDER:-}" ]; then
  # The default provider is fastembed; it needs BGE-small-en-v1.5 in KDB_MODEL_DIR
  # (fetched on first start when the machine can reach the model host).
  if [ -d "$KDB_MODEL_DIR/${KDB_EMBEDDING_MODEL:-fast-bge-small-en-v1.5}" ] || [ -n "${KDB_MODEL_SOURCE:-}" ]; then
    export KDB_EMBEDDING_PROVIDER=fastembed
  else
    export KDB_EMBEDDING_PROVIDER=hash
    echo "no model in $KDB_MODEL_DIR: using the hash provider (lexical vectors)." \
      "KDB_EMBEDDING_PROVIDER=fastembed fetches BGE-small-en-v1.5 on start; KDB_MODEL_SOURCE=DIR copies it from DIR."
  fi
fi
if [ -z "${KDB_API_KEY:-}" ] && [ "${KDB_AUTH:-}" != disabled ]; then
  export KDB_API_KEY="local-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "generated KDB_API_KEY=$KDB_API_KEY (export it for the CLI)"
fi
dbname=$(node -e "console.log(new URL(process.argv[1]).pathname.slice(1))" "$KDB_DATABASE_URL")
psql "${KDB_DATABASE_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1 \
  || psql "${KDB_DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"$dbname\""

metrics_base=${KDB_METRICS_PORT_BASE:-9464}
if ! [[ "$metrics_base" =~ ^[0-9]+$ ]] || [ "$metrics_base" -gt 65535 ]; then
  echo "KDB_METRICS_PORT_BASE must be a port number (0 for any free port); got '$metrics_base'" >&2
  exit 1
fi

# Set by stop(): a process that exits after it was asked to stop is not started again.
stopping=$(mktemp -u "${TMPDIR:-/tmp}/kdb-stack-stopping.XXXXXX")

# Runs "$@" until told to stop (SIGTERM, passed on to it), starting it
# again whenever it exits. A run that lasted a minute resets the delay: a
# crash now and then costs 1 s, a crash loop does not spin.
supervise() {
  local name=$1 child='' sleeper='' delay=1 started code halt=''
  shift
  # INT too: Ctrl-C reaches this shell with the rest of the terminal's processes, and its default
  # action would end the supervisor before its process, leaving that orphaned.
  trap 'halt=1; for p in $child $sleeper; do kill -TERM "$p" 2>/dev/null || true; done' INT TERM
  while [ -z "$halt" ]; do
    started=$SECONDS
    "$@" &
    child=$!
    # A trapped signal ends `wait` early: wait again until the process is gone.
    while :; do
      code=0
      wait "$child" || code=$?
      kill -0 "$child" 2>/dev/null || break
    done
    child=''
    if [ -n "$halt" ] || [ -e "$stopping" ]; then break; fi
    if [ $((SECONDS - started)) -ge 60 ]; then delay=1; fi
    echo "[stack-local] $name exited (status $code); starting it again in ${delay}s" >&2
    sleep "$delay" &
    sleeper=$!
    wait "$sleeper" 2>/dev/null || true
    sleeper=''
    # Ctrl-C reaches every process of the terminal at once: one that stopped on it is not restarted.
    if [ -e "$stopping" ]; then break; fi
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

pids=()
stop() {
  trap - INT TERM
  echo "stopping (SIGTERM: workers finish their batch)…"
  touch "$stopping"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -f "$stopping"
}
trap stop INT TERM
supervise api node --conditions=source --import tsx apps/api/src/main.ts & pids+=($!)
for i in $(seq 1 "${KDB_WORKERS:-2}"); do
  # Each worker's /metrics, /healthz, /readyz on its own port: 9464, 9465, …
  port=$((metrics_base == 0 ? 0 : metrics_base + i - 1))
  ( export KDB_METRICS_PORT=$port; supervise "worker $i" node --conditions=source --import tsx apps/worker/src/main.ts ) & pids+=($!)
done
echo "API on http://127.0.0.1:$KDB_PORT with ${KDB_WORKERS:-2} workers; Ctrl-C to stop"
wait "${pids[@]}" || true
