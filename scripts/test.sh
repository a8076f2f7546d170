#!/usr/bin/env bash
# The test command, for a new machine and for CI: services and pgvector,
# dependencies from the frozen lockfile, type checks, lint and the
# circular-import check (both at zero findings), then the whole suite against
# real PostgreSQL and Redis. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh
bash scripts/ensure-pnpm.sh
bash scripts/ensure-chromium.sh           # the dashboard browser test
bash scripts/ensure-compose-validator.sh  # the docker-compose.yml test
bash scripts/ensure-onnx.sh               # the generated model of the fastembed tests
pnpm install --frozen-lockfile --reporter=append-only
# The build type-checks every package with the tsconfig.json its `typecheck`
# script uses, so of `pnpm run typecheck` only the tests' and scripts' check is
# left to run; tests start app processes from this build (test-support/appCommand.ts).
pnpm run build   # the same build the Dockerfile runs
pnpm exec tsc -p tsconfig.json
pnpm run lint      # eslint, then madge --circular on every src folder
pnpm exec vitest run "$@"
