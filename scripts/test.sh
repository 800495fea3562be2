#!/usr/bin/env bash
# The test command (README, .ci/run): prepares a fresh Debian machine (packages, dockerd, local
# images, npm deps) idempotently, type-checks, then runs unit and integration tests against the
# real Docker engine and HAProxy edge.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
echo "test: type-check"
npx --no-install tsc --noEmit -p .
echo "test: build (bin/berth.js runs the bundle while it is newer than the sources)"
npm run --silent build
mapfile -t files < <(find test -name '*.test.ts' | sort)
echo "test: ${#files[@]} test files"
# One file at a time: integration tests share the machine's two cores and measure zero-error switches.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
