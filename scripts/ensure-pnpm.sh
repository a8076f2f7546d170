#!/usr/bin/env bash
# Makes sure the pnpm pinned in package.json ("packageManager") is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(node -p "require('./package.json').packageManager.split('@')[1]")
have=$(pnpm --version 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "[ensure-pnpm] installing pnpm $want (found: ${have:-none})" >&2
  npm install -g --silent "pnpm@$want" >/dev/null
fi
