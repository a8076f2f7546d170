#!/usr/bin/env bash
# Debian's docker-compose (v1) validates a compose file without a Docker
# engine (`docker-compose config -q`); the compose test uses it. Idempotent.
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; then exit 0; fi
echo "[ensure-compose-validator] installing Debian's docker-compose" >&2
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
