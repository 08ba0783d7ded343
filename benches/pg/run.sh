#!/usr/bin/env bash
# PostgreSQL extract benchmark: `reelhouse ingest postgres` vs `psql \copy` to CSV on a
# generated 5M-row payment table, alternating within each round.
#   benches/pg/run.sh [--customers 100000] [--days 250] [--rounds 3] ...
# Starts a private PostgreSQL server on port $PG_PORT (default 55499; installs Debian's
# postgresql if missing), builds reelhouse in release (SKIP_BUILD=1 skips it), generates the
# company once (kept in the server's folder between runs), then runs bench_pg.py.
# Needs only python3's standard library.
set -euo pipefail
cd "$(dirname "$0")/../.."

export PG_PORT="${PG_PORT:-55499}"
export PG_DIR="${PG_DIR:-$PWD/data/pg-bench-$PG_PORT}"
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
mkdir -p data
# Like start_private_postgres, but a cluster left by an earlier run is started again rather
# than wiped: the generated company (a few minutes to build) survives between runs.
if [[ -f "$PG_DIR/PG_VERSION" ]]; then
  PG_BIN="$(find_pg_bin)"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$PG_DIR"
  as_pg_user "$PG_BIN/pg_ctl -D $PG_DIR status" >/dev/null 2>&1 ||
    as_pg_user "$PG_BIN/pg_ctl -D $PG_DIR -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' -l $PG_DIR/server.log -w start" >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export PG_URL PG_BIN
else
  start_private_postgres
fi
trap stop_private_postgres EXIT

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  # --workspace, like scripts/test.sh: the same feature set, so DataFusion is not rebuilt.
  cargo build --release --workspace
fi

python3 benches/pg/bench_pg.py --url "$PG_URL" --psql "$PG_BIN/psql" "$@"
