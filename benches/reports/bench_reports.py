#!/usr/bin/env python3
"""Times the report pack in reelhouse and in DuckDB on the same Parquet files, alternating.

Data (generated once into data/bench-reports/, reused): MovieLens-like CSV with --ratings
ratings and a movies_metadata.csv with --movies movies, both ingested into one reelhouse
workspace. DuckDB reads the very Parquet files of those Delta tables (duckdb_reports.py).

Per report, one round is:
  A  reelhouse: `reelhouse --format csv report NAME > /dev/null`, a fresh process (start,
     open the lake, plan, run, write every row as CSV);
  B  DuckDB: a fresh connection, CREATE VIEW over the Parquet files, run, fetch every row.
Rounds alternate A B A B; the figures are medians over --runs rounds.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import duckdb_reports  # noqa: E402

BIN = os.environ.get("REELHOUSE_BIN", os.path.join(ROOT, "target", "release", "reelhouse"))
NAMES = ["rating-histogram", "films-per-year", "genre-frequency", "top-rated",
         "company-year", "company-year-genre", "genre-year"]


def sh(args, **kw):
    return subprocess.run(args, check=True, **kw)


def prepare(data, ratings, movies):
    ml = os.path.join(data, f"ml-{ratings}")
    meta = os.path.join(data, f"meta-{movies}")
    ws = os.path.join(data, f"ws-{ratings}-{movies}")
    if not os.path.exists(os.path.join(ml, "ratings.csv")):
        sh([BIN, "--no-progress", "generate", "movielens", "--ratings", str(ratings), "--out", ml, "--seed", "42"])
    if not os.path.exists(os.path.join(meta, "movies_metadata.csv")):
        sh([BIN, "--no-progress", "generate", "movies-metadata", "--movies", str(movies), "--out", meta, "--seed", "42"])
    done = os.path.join(ws, ".bench-loaded")
    if not os.path.exists(done):
        sh(["rm", "-rf", ws])
        sh([BIN, "--no-progress", "init", ws], stdout=subprocess.DEVNULL)
        t0 = time.perf_counter()
        sh([BIN, "--no-progress", "--workspace", ws, "ingest", "movielens", ml, "--ds", "2026-12-01"], stdout=subprocess.DEVNULL)
        t1 = time.perf_counter()
        sh([BIN, "--no-progress", "--workspace", ws, "ingest", "movies-metadata", meta, "--ds", "2026-12-01"], stdout=subprocess.DEVNULL)
        t2 = time.perf_counter()
        print(f"ingest: movielens {t1 - t0:.1f} s, movies-metadata {t2 - t1:.1f} s", flush=True)
        open(done, "w").close()
    return ws


def time_reelhouse(ws, name):
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        sh([BIN, "--no-progress", "--workspace", ws, "--format", "csv", "report", name], stdout=devnull)
    return time.perf_counter() - t0


def time_duckdb(lake, name):
    _, sql = duckdb_reports.REPORTS[name]
    t0 = time.perf_counter()
    con, _ = duckdb_reports.connect(lake)
    rows = con.execute(sql).fetchall()
    con.close()
    return time.perf_counter() - t0, len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ratings", type=int, default=25_000_000)
    ap.add_argument("--movies", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "bench-reports"))
    ap.add_argument("--only", help="comma-separated report names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else NAMES
    ws = prepare(args.data, args.ratings, args.movies)
    lake = os.path.join(ws, "lake")
    ours = {n: [] for n in names}
    theirs = {n: [] for n in names}
    rows = {}
    # One warm-up of each so the page cache holds the files for both.
    for n in names:
        time_reelhouse(ws, n)
        time_duckdb(lake, n)
    for k in range(args.runs):
        for n in names:
            ours[n].append(time_reelhouse(ws, n))
            s, r = time_duckdb(lake, n)
            theirs[n].append(s)
            rows[n] = r
        print(f"round {k + 1}/{args.runs} done", flush=True)
    med = lambda v: statistics.median(v)
    total_ours = sum(med(ours[n]) for n in names)
    total_theirs = sum(med(theirs[n]) for n in names)
    print(f"\n{args.ratings:,} ratings, {args.movies:,} movies; medians of {args.runs} alternating runs\n")
    print("| report | rows | reelhouse | DuckDB | ratio |")
    print("|---|---:|---:|---:|---:|")
    for n in names:
        a, b = med(ours[n]), med(theirs[n])
        print(f"| {n} | {rows[n]:,} | {a:.3f} s | {b:.3f} s | {a / b:.2f}x |")
    print(f"| **total** | | **{total_ours:.2f} s** | **{total_theirs:.2f} s** | **{total_ours / total_theirs:.2f}x** |")
    out = os.path.join(HERE, "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump({
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "load": os.getloadavg()},
            "ratings": args.ratings, "movies": args.movies, "runs": args.runs,
            "reelhouse_seconds": ours, "duckdb_seconds": theirs, "rows": rows,
            "total_reelhouse": total_ours, "total_duckdb": total_theirs,
        }, f, indent=1)


if __name__ == "__main__":
    main()
