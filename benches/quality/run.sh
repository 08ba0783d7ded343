#!/usr/bin/env bash
# Quality benchmark: validating a generated ratings table with 10 expectations
# (benches/quality/clean.ratings.toml) against a single count(*) scan of the same table, in
# the same run, alternating A B A B. Goal: validation under 2x the scan.
#
#   benches/quality/run.sh [--ratings 25000000] [--rounds 5]
#
# Builds reelhouse in release (SKIP_BUILD=1 skips it), generates data/ml-gen-N once
# (seed 42), ingests it into data/quality-ws once, then times each side as a whole command
# (process start, opening the lake, the query): `reelhouse validate` vs `reelhouse sql`.
# Three count(*) queries are timed: `count(*)` alone (DataFusion answers it from the Delta
# statistics without reading data), a count(*) whose filter reads one column, and the
# baseline of the goal: a count(*) whose filter reads the four columns the expectations read
# (a plain `IS NOT NULL` filter would not do: on NOT NULL columns it is optimised away).
set -euo pipefail
cd "$(dirname "$0")/../.."

RATINGS=25000000
ROUNDS=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ratings) RATINGS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown flag $1 (use --ratings N --rounds N)" >&2; exit 2 ;;
  esac
done

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  cargo build --release --workspace
fi
BIN=target/release/reelhouse
DATA="data/ml-gen-${RATINGS}"
WS="data/quality-ws-${RATINGS}"
if [[ ! -f "$DATA/ratings.csv" ]]; then
  "$BIN" --no-progress generate movielens --ratings "$RATINGS" --out "$DATA" --seed 42
fi
if [[ ! -f "$WS/reelhouse.toml" ]]; then
  rm -rf "$WS"
  "$BIN" --no-progress init "$WS" >/dev/null
  "$BIN" --no-progress --workspace "$WS" ingest movielens "$DATA" --ds 2025-04-09 >/dev/null
fi

SUITE=benches/quality/clean.ratings.toml
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
run_timed() { # name, command...  (bash's EPOCHREALTIME: no process start in the interval)
  local name="$1"; shift
  local t0=$EPOCHREALTIME
  "$@" > "$OUT/last.json"
  local t1=$EPOCHREALTIME
  echo "$name $t0 $t1" >> "$OUT/times.txt"
}

SCAN_COLS="SELECT count(*) AS n FROM clean.ratings WHERE user_id >= 0 AND movie_id >= 0 AND rating >= 0 AND rated_at >= TIMESTAMP '1900-01-01'"
SCAN_ONE="SELECT count(*) AS n FROM clean.ratings WHERE rating >= 0"
"$BIN" --no-progress --workspace "$WS" --format json validate clean.ratings --file "$SUITE" --no-store > "$OUT/warmup.json" || true
for r in $(seq 1 "$ROUNDS"); do
  run_timed validate "$BIN" --no-progress --workspace "$WS" --format json validate clean.ratings --file "$SUITE" --no-store
  cp "$OUT/last.json" "$OUT/validate-$r.json"
  run_timed count_star "$BIN" --no-progress --workspace "$WS" --format json sql "SELECT count(*) AS n FROM clean.ratings"
  run_timed count_scan "$BIN" --no-progress --workspace "$WS" --format json sql "$SCAN_COLS"
  run_timed count_one "$BIN" --no-progress --workspace "$WS" --format json sql "$SCAN_ONE"
  echo "round $r/$ROUNDS done" >&2
done

python3 - "$OUT" "$RATINGS" <<'PY'
import json, statistics, sys, glob, os
out, n = sys.argv[1], int(sys.argv[2])
times = {}
for line in open(os.path.join(out, "times.txt")):
    k, t0, t1 = line.split()
    times.setdefault(k, []).append(float(t1) - float(t0))
inner = [json.load(open(f))["seconds"] for f in sorted(glob.glob(os.path.join(out, "validate-*.json")))]
rep = json.load(open(os.path.join(out, "validate-1.json")))
med = {k: statistics.median(v) for k, v in times.items()}
print(f"ratings: {n:,}; table rows validated: {rep['rows']:,}; expectations: {len(rep['results'])}; scans: {rep['scans']}; status: {rep['status']}")
print(f"{'side':<12} {'median s':>9}  runs")
for k in ["validate", "count_scan", "count_one", "count_star"]:
    print(f"{k:<12} {med[k]:>9.3f}  " + " ".join(f"{x:.3f}" for x in times[k]))
print(f"validate inside the process (no start-up): median {statistics.median(inner):.3f} s")
print(f"ratio validate / count_scan (4 columns read): {med['validate'] / med['count_scan']:.2f}x  (goal < 2x)")
print(f"ratio validate / count_one (1 column read):    {med['validate'] / med['count_one']:.2f}x")
print(f"ratio validate / count_star (statistics only): {med['validate'] / med['count_star']:.2f}x")
PY
