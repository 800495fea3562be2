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
mapfile -t unit < <(find test/unit -name '*.test.ts' | sort)
mapfile -t integration < <(find test/integration -name '*.test.ts' | sort)
# Unit tests touch no shared service: two files at a time (about 35 s instead of 58 s).
echo "test: ${#unit[@]} unit test files"
status=0
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${unit[@]}" || status=$?
# One file at a time: integration tests share the machine's two cores and measure zero-error switches.
echo "test: ${#integration[@]} integration test files"
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${integration[@]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
exit "$status"
