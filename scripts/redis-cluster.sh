#!/usr/bin/env bash
# A local 6-node Redis Cluster (3 masters, 3 replicas) for development and
# tests, without Docker:
#
#   scripts/redis-cluster.sh start [BASE_PORT]   # nodes on BASE_PORT..BASE_PORT+5 (default 7100)
#   scripts/redis-cluster.sh stop  [BASE_PORT]
#   scripts/redis-cluster.sh status [BASE_PORT]
#
# `start` prints the seed list for KDB_REDIS_URL on its last line
# (KDB_REDIS_MODE=cluster). Both commands are idempotent: `start` on a healthy
# cluster of ours does nothing, on a half-started one it stops and starts
# again; `stop` kills only the processes whose pid files are in this
# cluster's folder and removes the folder. A port already answering Redis
# that is not ours is refused, never touched. The folder is
# ${KDB_REDIS_CLUSTER_DIR:-/tmp/kdb-redis-cluster}-BASE_PORT.
set -euo pipefail

cmd=${1:-}
base=${2:-7100}
if ! [[ "$base" =~ ^[0-9]+$ ]] || (( base < 1024 || base > 65529 )); then
  echo "redis-cluster.sh: BASE_PORT must be a number from 1024 to 65529 (got \"$base\")" >&2
  exit 2
fi
dir="${KDB_REDIS_CLUSTER_DIR:-/tmp/kdb-redis-cluster}-$base"
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base + i))); done
seeds=$(printf '127.0.0.1:%s ' "${ports[@]}")
seed_urls=$(printf 'redis://127.0.0.1:%s,' "${ports[@]}")
seed_urls=${seed_urls%,}

answers() { redis-cli -p "$1" ping >/dev/null 2>&1; }

ours() { # the process on port $1 is the one whose pid file is in $dir
  local pidf="$dir/n$1.pid"
  [[ -f "$pidf" ]] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

stop_nodes() {
  for p in "${ports[@]}"; do
    local pidf="$dir/n$p.pid"
    [[ -f "$pidf" ]] || continue
    local pid
    pid=$(cat "$pidf")
    if kill -0 "$pid" 2>/dev/null; then
      redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
}

healthy() {
  for p in "${ports[@]}"; do ours "$p" || return 1; done
  redis-cli -p "$base" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  # three masters, three replicas
  [[ $(redis-cli -p "$base" cluster nodes 2>/dev/null | grep -c 'connected') -eq 6 ]]
}

case "$cmd" in
  start)
    if healthy; then
      echo "redis cluster on ports ${ports[0]}-${ports[5]} already running" >&2
      echo "$seed_urls"
      exit 0
    fi
    for p in "${ports[@]}"; do
      if answers "$p" && ! ours "$p"; then
        echo "redis-cluster.sh: port $p already answers Redis and is not this cluster's node: not touching it (pick another BASE_PORT)" >&2
        exit 1
      fi
    done
    stop_nodes
    mkdir -p "$dir"
    for p in "${ports[@]}"; do
      redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/n$p.conf" \
        --cluster-node-timeout 5000 --save '' --appendonly no --daemonize yes --dir "$dir" \
        --pidfile "$dir/n$p.pid" --logfile "$dir/n$p.log"
    done
    for p in "${ports[@]}"; do
      for _ in $(seq 1 100); do answers "$p" && break; sleep 0.05; done
      answers "$p" || { echo "redis-cluster.sh: node $p did not start (log: $dir/n$p.log)" >&2; stop_nodes; exit 1; }
    done
    # shellcheck disable=SC2086
    redis-cli --cluster create $seeds --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
      || { cat "$dir/create.log" >&2; stop_nodes; exit 1; }
    # cluster_state:ok on every node, and every replica linked to its master
    for _ in $(seq 1 200); do
      ok=1
      for p in "${ports[@]}"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
      done
      (( ok )) && [[ $(redis-cli -p "$base" cluster nodes | grep -c ' slave ') -eq 3 ]] && break
      ok=0
      sleep 0.1
    done
    if (( ! ok )); then
      echo "redis-cluster.sh: cluster_state did not become ok (logs in $dir)" >&2
      stop_nodes
      exit 1
    fi
    echo "redis cluster on ports ${ports[0]}-${ports[5]}: 3 masters, 3 replicas; KDB_REDIS_MODE=cluster KDB_REDIS_URL=" >&2
    echo "$seed_urls"
    ;;
  stop)
    stop_nodes
    ;;
  status)
    if healthy; then echo "ok: $seed_urls"; else echo "not running (or not healthy) on ports ${ports[0]}-${ports[5]}"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status [BASE_PORT]" >&2
    exit 2
    ;;
esac
