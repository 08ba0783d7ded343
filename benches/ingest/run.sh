#!/usr/bin/env bash
# Ingest benchmark: reelhouse vs DuckDB on a generated MovieLens CSV set.
#   benches/ingest/run.sh [--ratings 25000000] [--runs 3] [--only duckdb] ...
# Installs the duckdb Python package (no venv), builds reelhouse in release, then runs
# bench_ingest.py with the given flags. SKIP_BUILD=1 skips the cargo build.
set -euo pipefail
cd "$(dirname "$0")/../.."

DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
python3 -m pip install --quiet "duckdb==${DUCKDB_VERSION}"

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  # --workspace, like scripts/test.sh: the same feature set, so DataFusion is not rebuilt.
  cargo build --release --workspace
fi

exec python3 benches/ingest/bench_ingest.py "$@"
