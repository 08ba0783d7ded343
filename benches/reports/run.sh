#!/usr/bin/env bash
# Report-pack benchmark: reelhouse vs DuckDB over the same Parquet files, in the same run.
#   benches/reports/run.sh [--ratings 25000000] [--movies 1000000] [--runs 3]
# Installs the duckdb Python package (no venv), builds reelhouse in release, generates the
# data into data/bench-reports/ (git-ignored; reused when present), ingests it into a
# workspace there, then runs bench_reports.py, which alternates reelhouse and DuckDB
# (A B A B) and prints medians and ratios. SKIP_BUILD=1 skips the cargo build.
set -euo pipefail
cd "$(dirname "$0")/../.."

DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
python3 -m pip install --quiet "duckdb==${DUCKDB_VERSION}" 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages "duckdb==${DUCKDB_VERSION}"

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  # --workspace, like scripts/test.sh: the same feature set, so DataFusion is not rebuilt.
  cargo build --release --workspace
fi

exec python3 benches/reports/bench_reports.py "$@"
