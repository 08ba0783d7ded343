#!/usr/bin/env python3
"""PostgreSQL extract benchmark: reelhouse vs psql on the same generated payment table.

Measured, alternating within each round (A B, A B, ...), each side in its own process so
that peak RSS is per process:

  reelhouse  `reelhouse --workspace WS --format json ingest postgres --url URL --table payment
             --into raw.payment --ds 2025-01-01` into a fresh workspace (`reelhouse init WS`,
             not timed): binary COPY decoded to Arrow, written as one Delta commit (Parquet,
             zstd), catalog entries with lineage.
  psql       `psql URL -c "\\copy payment TO 'payment.csv' (FORMAT csv)"`: what a user would
             otherwise do to get the table out; text COPY written to a CSV file, no types, no
             lake, no catalog.

The company is generated once by `reelhouse generate rental` into database reel_bench_pg
(about 5M payments at the default 100,000 customers over 250 days) and reused while its
payment count matches.

Usage (benches/pg/run.sh starts the server and builds first):

  python3 benches/pg/bench_pg.py --url postgres://postgres@127.0.0.1:55499/postgres
      [--customers 100000] [--days 250] [--rounds 3] [--bin target/release/reelhouse]

Prints a markdown table and writes JSON to benches/pg/results/latest.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DB = "reel_bench_pg"


def run_measured(cmd: list[str], cwd: Path | None = None) -> dict:
    """Runs cmd; returns wall time and the peak RSS of exactly that process (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "exit": p.returncode,
            "wall_s": wall,
            "peak_rss_mb": ru.ru_maxrss / 1024.0,
            "user_s": ru.ru_utime,
            "sys_s": ru.ru_stime,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }


def with_db(url: str, db: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, parts.fragment))


def psql_scalar(psql: str, url: str, sql: str) -> str | None:
    r = subprocess.run([psql, url, "-AtXc", sql], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def ensure_company(args, url: str) -> dict:
    """Generates the company unless the database already holds it."""
    marker = psql_scalar(args.psql, url, "SELECT obj_description('payment'::regclass)")
    want = f"customers={args.customers} days={args.days} seed=42"
    if marker == want:
        n = int(psql_scalar(args.psql, url, "SELECT count(*) FROM payment") or 0)
        print(f"reusing {DB}: {n} payments ({want})", flush=True)
        return {"reused": True, "payments": n}
    if psql_scalar(args.psql, args.url, f"SELECT 1 FROM pg_database WHERE datname = '{DB}'") != "1":
        subprocess.run([args.psql, args.url, "-qXc", f"CREATE DATABASE {DB}"], check=True)
    cmd = [str(args.bin), "--no-progress", "generate", "rental", "--postgres", url, "--customers", str(args.customers),
           "--days", str(args.days), "--seed", "42", "--replace"]
    print(f"generating: {' '.join(cmd)}", flush=True)
    r = run_measured(cmd, cwd=ROOT)
    if r["exit"] != 0:
        sys.exit(f"error: generating the company failed:\n{tail(r['stderr'])}")
    # Two -c: psql runs a single -c string as one transaction, and VACUUM refuses that.
    subprocess.run([args.psql, url, "-qX", "-c", f"COMMENT ON TABLE payment IS '{want}'", "-c", "VACUUM ANALYZE payment"], check=True)
    n = int(psql_scalar(args.psql, url, "SELECT count(*) FROM payment") or 0)
    print(f"  {n} payments in {r['wall_s']:.1f}s (peak RSS {r['peak_rss_mb']:.0f} MB)", flush=True)
    return {"reused": False, "payments": n, "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"]}


def run_reelhouse(args, url: str, work: Path) -> dict:
    ws = Path(tempfile.mkdtemp(prefix="reel-pg-ws-", dir=work))
    try:
        init = run_measured([str(args.bin), "init", str(ws)])
        if init["exit"] != 0:
            return {"exit": init["exit"], "error": tail(init["stderr"])}
        r = run_measured([str(args.bin), "--no-progress", "--workspace", str(ws), "--format", "json", "ingest", "postgres",
                          "--url", url, "--table", "payment", "--into", "raw.payment", "--ds", "2025-01-01"])
        if r["exit"] != 0:
            return {"exit": r["exit"], "error": tail(r["stderr"])}
        summary = json.loads(r["stdout"])
        r["rows"] = summary["rows"]
        r["copy_bytes"] = summary["bytes"]
        r["output_bytes"] = dir_bytes(ws / "lake" / "raw" / "payment")
        r.pop("stdout")
        return r
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def run_psql(args, url: str, work: Path) -> dict:
    out = work / "payment.csv"
    try:
        r = run_measured([args.psql, url, "-qX", "-c", f"\\copy payment TO '{out}' (FORMAT csv)"])
        if r["exit"] != 0:
            return {"exit": r["exit"], "error": tail(r["stderr"])}
        r["output_bytes"] = out.stat().st_size
        with out.open("rb") as f:
            r["rows"] = sum(1 for _ in f)
        r.pop("stdout")
        return r
    finally:
        out.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="admin URL of the server (a database is created on it)")
    ap.add_argument("--psql", default=shutil.which("psql") or "psql")
    ap.add_argument("--bin", type=Path, default=ROOT / "target/release/reelhouse")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=None, help="scratch folder (default: system temp)")
    args = ap.parse_args()
    if not args.bin.is_file():
        sys.exit(f"error: {args.bin} is missing; run `cargo build --release --workspace` (run.sh does)")
    url = with_db(args.url, DB)
    company = ensure_company(args, url)
    work = Path(tempfile.mkdtemp(prefix="reel-pg-bench-", dir=args.work_dir))
    runs: dict[str, list[dict]] = {"reelhouse": [], "psql": []}
    try:
        for k in range(args.rounds):
            for side, fn in (("reelhouse", run_reelhouse), ("psql", run_psql)):
                r = fn(args, url, work)
                if r.get("exit") != 0:
                    sys.exit(f"error: {side} failed in round {k + 1}:\n{r.get('error')}")
                runs[side].append(r)
                print(f"round {k + 1} {side:9s} {r['wall_s']:7.2f}s  {r['rows'] / r['wall_s'] / 1e6:5.2f} M rows/s  "
                      f"peak RSS {r['peak_rss_mb']:7.1f} MB  output {r['output_bytes'] / 1e6:7.1f} MB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    base = med("reelhouse", "wall_s")
    table = ["| side | median wall s | median rows/s | median peak RSS | output | wall vs reelhouse |",
             "|---|---:|---:|---:|---:|---:|"]
    for side in ("reelhouse", "psql"):
        rows = runs[side][0]["rows"]
        table.append(f"| {side} | {med(side, 'wall_s'):.2f} | {rows / med(side, 'wall_s') / 1e6:.2f} M | "
                     f"{med(side, 'peak_rss_mb'):.0f} MB | {med(side, 'output_bytes') / 1e6:.0f} MB | "
                     f"{med(side, 'wall_s') / base:.2f} |")
    print("\n".join(table))
    loadavg = os.getloadavg()
    result = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg": loadavg},
        "customers": args.customers,
        "days": args.days,
        "company": company,
        "runs": runs,
        "medians": {s: {k: med(s, k) for k in ("wall_s", "peak_rss_mb", "output_bytes")} for s in runs},
        "table": table,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2))
    print(f"load average at the end: {loadavg[0]:.1f} {loadavg[1]:.1f} {loadavg[2]:.1f}; wrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
