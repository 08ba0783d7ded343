#!/usr/bin/env bash
# Rewrites testdata/reports/golden/*.csv: DuckDB's answers to the report pack over the
# Parquet files of a workspace holding the bundled MovieLens 100K and metadata sample.
#   benches/reports/goldens.sh
# Review the diff before committing: these files are what reelhouse's reports must equal.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet "duckdb==${DUCKDB_VERSION}" \
  || python3 -m pip install --quiet --break-system-packages "duckdb==${DUCKDB_VERSION}"
[[ "${SKIP_BUILD:-0}" == "1" ]] || cargo build --release --workspace
ws="$(mktemp -d)/ws"
trap 'rm -rf "$(dirname "$ws")"' EXIT
bin=target/release/reelhouse
$bin --no-progress init "$ws" >/dev/null
$bin --no-progress --workspace "$ws" ingest movielens datasets/movielens-100k >/dev/null
$bin --no-progress --workspace "$ws" ingest movies-metadata datasets/movies-metadata --ds 2026-12-01 >/dev/null
rm -f testdata/reports/golden/*.csv
python3 benches/reports/duckdb_reports.py --lake "$ws/lake" --out testdata/reports/golden
