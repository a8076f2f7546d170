#!/usr/bin/env bash
# Debian's python3-onnx, with which the tests generate a tiny real model for
# the fastembed provider (weights cannot be downloaded here). Idempotent.
set -euo pipefail
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then exit 0; fi
echo "[ensure-onnx] installing Debian's python3-onnx" >&2
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3-onnx >/dev/null
