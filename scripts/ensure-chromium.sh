#!/usr/bin/env bash
# Debian's Chromium for the dashboard browser test (browsers cannot be
# downloaded by test tools here). Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "[ensure-chromium] installing Debian's chromium" >&2
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
