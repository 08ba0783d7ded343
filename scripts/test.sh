#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one.
#
# Installs what the tests need when it is missing (PostgreSQL from Debian's packages),
# starts a private PostgreSQL server for the catalog tests, builds in release mode (one
# build of DataFusion and delta-rs serves the tests, the demo and the benchmarks) and
# runs every test of the workspace. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[test.sh]\033[0m %s\n' "$*" >&2; }

# --- PostgreSQL -------------------------------------------------------------------------
if [ -z "${REELHOUSE_TEST_POSTGRES_URL:-}" ]; then
  # shellcheck source=scripts/postgres.sh
  source scripts/postgres.sh
  start_private_postgres
  export REELHOUSE_TEST_POSTGRES_URL="$PG_URL"
  trap stop_private_postgres EXIT
fi
log "PostgreSQL for tests: ${REELHOUSE_TEST_POSTGRES_URL}"
export REELHOUSE_REQUIRE_POSTGRES=1

# --- Rust tests -------------------------------------------------------------------------
log "cargo test --release --workspace $*"
cargo test --release --workspace "$@"
