#!/usr/bin/env bash
# Runs the whole pipeline without Docker: local PostgreSQL (+pgvector) and
# Redis, one API process and KDB_WORKERS worker processes (default 2), the
# same processes docker-compose.yml runs. Ctrl-C stops them all gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh
bash scripts/ensure-pnpm.sh
pnpm install --frozen-lockfile --reporter=silent

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

pids=()
stop() {
  trap - INT TERM
  echo "stopping (SIGTERM: workers finish their batch)…"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM
node --conditions=source --import tsx apps/api/src/main.ts & pids+=($!)
for i in $(seq 1 "${KDB_WORKERS:-2}"); do
  # Each worker's /metrics, /healthz, /readyz on its own port: 9464, 9465, …
  KDB_METRICS_PORT=$((9463 + i)) node --conditions=source --import tsx apps/worker/src/main.ts & pids+=($!)
done
echo "API on http://127.0.0.1:$KDB_PORT with ${KDB_WORKERS:-2} workers; Ctrl-C to stop"
wait -n "${pids[@]}" || true
stop
