#!/bin/sh
# Container entry: `api`, `worker` or `cli …` (the kameleondb command).
set -e
role=${1:-api}
[ $# -gt 0 ] && shift
case "$role" in
  api) exec node /app/apps/api/dist/main.js "$@" ;;
  worker) exec node /app/apps/worker/dist/main.js "$@" ;;
  cli|kameleondb) exec node /app/apps/cli/dist/main.js "$@" ;;
  *) echo "unknown role \"$role\": use api, worker or cli" >&2; exit 64 ;;
esac
