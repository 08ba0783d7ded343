#!/usr/bin/env python3
"""Ingest benchmark: reelhouse vs DuckDB on the same generated MovieLens CSV set.

Measured, alternating within each round (A B C, A B C, ...), each in its own process so that
peak RSS is per process:

  reelhouse       `reelhouse --workspace WS --format json ingest movielens DIR` into a fresh
                  workspace (`reelhouse init WS`, not timed): raw + clean Delta tables.
  duckdb-ratings  DuckDB COPY (SELECT * FROM read_csv('ratings.csv')) TO parquet (zstd).
  duckdb-all      the same for ratings, movies, tags and links: the closest DuckDB gets to
                  "end to end" (it still writes one copy, reelhouse writes raw and clean).

Usage (from the repository root; benches/ingest/run.sh installs duckdb and builds first):

  python3 benches/ingest/bench_ingest.py [--ratings 25000000] [--runs 3]
      [--bin target/release/reelhouse] [--data data/ml-gen-<N>] [--only reelhouse|duckdb]

Prints a markdown table and writes JSON to benches/ingest/results/latest.json.
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

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
FILES = ("ratings.csv", "movies.csv", "tags.csv", "links.csv")
SEED = 42


# ---------------------------------------------------------------- DuckDB child process


def duckdb_child(data: Path, out: Path, variant: str, threads: int) -> None:
    """Runs inside the child process: converts CSV to Parquet, prints a JSON line."""
    t0 = time.perf_counter()
    import duckdb  # timed: part of what a user pays

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    names = ["ratings"] if variant == "ratings" else ["ratings", "movies", "tags", "links"]
    rows = {}
    for name in names:
        src = str(data / f"{name}.csv").replace("'", "''")
        dst = str(out / f"{name}.parquet").replace("'", "''")
        res = con.execute(
            f"COPY (SELECT * FROM read_csv('{src}')) TO '{dst}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()
        rows[name] = int(res[0][0]) if res and res[0] else None
    con.close()
    print(json.dumps({"rows": rows, "inner_seconds": time.perf_counter() - t0}))


# ---------------------------------------------------------------- running and measuring


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Runs cmd to completion; returns wall time, peak RSS of that process, exit code, output.

    os.wait4 gives the rusage of exactly this child (and the descendants it waited for), so
    ru_maxrss is this run's peak, not the maximum over every child so far as
    getrusage(RUSAGE_CHILDREN) would report.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # tell Popen not to wait again
        out.seek(0)
        err.seek(0)
        return {
            "cmd": cmd,
            "exit": p.returncode,
            "wall_s": wall,
            "peak_rss_mb": ru.ru_maxrss / 1024.0,  # Linux reports KiB
            "user_s": ru.ru_utime,
            "sys_s": ru.ru_stime,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# ---------------------------------------------------------------- data


def data_complete(data: Path) -> bool:
    # The generator writes `<file>.partial` and renames when done: all four present = complete.
    return all((data / f).is_file() for f in FILES)


def generate(args, data: Path) -> dict:
    """Generates the set with `reelhouse generate movielens`, or, until the binary has that
    command, with reel-gen's example (same library, same bytes for the same N and seed)."""
    cmds = []
    if args.bin.is_file():
        cmds.append([str(args.bin), "generate", "movielens", "--ratings", str(args.ratings),
                     "--out", str(data), "--seed", str(SEED)])
    gen_args = ["--ratings", str(args.ratings), "--out", str(data), "--seed", str(SEED)]
    example = ROOT / "target/release/examples/gen"
    if example.is_file():
        cmds.append([str(example), *gen_args])
    else:
        cmds.append(["cargo", "run", "--release", "--quiet", "-p", "reel-gen", "--example",
                     "gen", "--", *gen_args])
    for cmd in cmds:
        print(f"generating {args.ratings} ratings into {data}: {' '.join(cmd)}", flush=True)
        r = run_measured(cmd, cwd=ROOT)
        if r["exit"] == 0 and data_complete(data):
            print(f"  done in {r['wall_s']:.1f}s, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
            return {k: r[k] for k in ("cmd", "wall_s", "peak_rss_mb")}
        print(f"  failed (exit {r['exit']}):\n{tail(r['stderr'])}", file=sys.stderr, flush=True)
    sys.exit(f"error: could not generate {data}; see the messages above")


# ---------------------------------------------------------------- the two sides


def run_reelhouse(args, data: Path, env: dict) -> dict:
    ws = Path(tempfile.mkdtemp(prefix="reel-bench-ws-", dir=args.work_dir))
    try:
        init = run_measured([str(args.bin), "init", str(ws)], env=env)
        if init["exit"] != 0:
            return {"exit": init["exit"], "error": "reelhouse init failed: " + tail(init["stderr"])}
        r = run_measured([str(args.bin), "--workspace", str(ws), "--format", "json",
                          "ingest", "movielens", str(data)], env=env)
        try:
            r["summary"] = json.loads(r["stdout"])
        except ValueError:
            r["summary"] = None  # keep the raw text below
        r["stdout"] = r["stdout"][-20000:]
        r["stderr"] = tail(r["stderr"], 40)
        r["rows"] = args.ratings
        r["output_bytes"] = dir_bytes(ws)
        if r["exit"] != 0:
            r["error"] = "reelhouse ingest failed: " + tail(r["stderr"])
        return r
    finally:
        if not args.keep:
            shutil.rmtree(ws, ignore_errors=True)


def run_duckdb(args, data: Path, variant: str, env: dict) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"duckdb-bench-{variant}-", dir=args.work_dir))
    try:
        r = run_measured([sys.executable, str(Path(__file__).resolve()), "_duckdb_child",
                          str(data), str(out), variant, str(args.threads)], env=env)
        r["stderr"] = tail(r["stderr"], 40)
        if r["exit"] != 0:
            r["error"] = "duckdb failed: " + r["stderr"]
            return r
        child = json.loads(r["stdout"].strip().splitlines()[-1])
        r["rows"] = child["rows"]["ratings"]
        r["rows_by_file"] = child["rows"]
        r["inner_s"] = child["inner_seconds"]
        r["output_bytes"] = dir_bytes(out)
        if r["rows"] != args.ratings:
            r["error"] = f"duckdb wrote {r['rows']} ratings rows, expected {args.ratings}"
        return r
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ---------------------------------------------------------------- environment and report


def machine_info(args) -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": int(nproc) if nproc.isdigit() else os.cpu_count(),
        "cpu_model": cpu,
        "mem_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "threads": args.threads,
        "duckdb_version": None,
        "reelhouse_version": None,
        "git_commit": None,
    }
    if args.only != "reelhouse":
        v = subprocess.run([sys.executable, "-c", "import duckdb; print(duckdb.__version__)"],
                           capture_output=True, text=True)
        info["duckdb_version"] = v.stdout.strip() or None
    if args.only != "duckdb" and args.bin.is_file():
        v = subprocess.run([str(args.bin), "--version"], capture_output=True, text=True)
        info["reelhouse_version"] = v.stdout.strip() or None
    g = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    info["git_commit"] = g.stdout.strip() or None
    return info


def median_of(runs: list[dict], key: str):
    xs = [r[key] for r in runs if r.get("exit") == 0 and not r.get("error") and key in r]
    return statistics.median(xs) if xs else None


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def report(results: dict) -> str:
    n = results["params"]["ratings"]
    lines = [
        f"## Ingest benchmark: {n:,} ratings, {results['params']['runs']} runs "
        f"({results['machine']['nproc']} cores, {results['machine']['cpu_model']}, "
        f"duckdb {results['machine']['duckdb_version'] or '-'})",
        "",
        "| run | side | wall s | in-process s | ratings rows/s | peak RSS MB | output MB | status |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["runs"]:
        ok = r.get("exit") == 0 and not r.get("error")
        lines.append(
            f"| {r['round']} | {r['side']} | {fmt(r.get('wall_s'), '.2f')} | "
            f"{fmt(r.get('inner_s'), '.2f')} | "
            f"{fmt(r.get('rows_per_s'), ',.0f')} | {fmt(r.get('peak_rss_mb'), ',.0f')} | "
            f"{fmt(r.get('output_bytes', 0) / 1e6 if r.get('output_bytes') else None, ',.1f')} | "
            f"{'ok' if ok else 'FAILED'} |"
        )
    lines += ["", "| side | median wall s | median rows/s | median peak RSS MB | wall vs reelhouse |",
              "|---|---:|---:|---:|---:|"]
    for side, m in results["medians"].items():
        lines.append(
            f"| {side} | {fmt(m['wall_s'], '.2f')} | {fmt(m['rows_per_s'], ',.0f')} | "
            f"{fmt(m['peak_rss_mb'], ',.0f')} | {fmt(m.get('reelhouse_over_this'), '.2f')} |"
        )
    lines += ["", "`wall vs reelhouse` = reelhouse median wall time / this side's median "
              "(above 1: reelhouse is slower)."]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_duckdb_child":
        duckdb_child(Path(argv[1]), Path(argv[2]), argv[3], int(argv[4]))
        return 0

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ratings", type=int, default=25_000_000, help="ratings in the set")
    ap.add_argument("--runs", type=int, default=3, help="rounds (each runs every side once)")
    ap.add_argument("--bin", type=Path, default=ROOT / "target/release/reelhouse",
                    help="reelhouse binary")
    ap.add_argument("--data", type=Path, default=None,
                    help="CSV set folder (default data/ml-gen-<N>, generated if missing)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                    help="threads for both sides (default: all cores)")
    ap.add_argument("--only", choices=["reelhouse", "duckdb"], default=None,
                    help="run one side only")
    ap.add_argument("--no-duckdb-all", action="store_true",
                    help="skip the all-four-files DuckDB variant")
    ap.add_argument("--work-dir", type=Path, default=None,
                    help="where workspaces and Parquet outputs go (default: system temp)")
    ap.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="JSON results")
    ap.add_argument("--keep", action="store_true", help="keep reelhouse workspaces")
    args = ap.parse_args(argv)

    args.bin = args.bin if args.bin.is_absolute() else (Path.cwd() / args.bin)
    data = args.data or ROOT / "data" / f"ml-gen-{args.ratings}"
    data = data if data.is_absolute() else Path.cwd() / data
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)

    if args.only != "duckdb" and not args.bin.is_file():
        print(f"error: reelhouse binary not found at {args.bin}\n"
              "  build it with `cargo build --release -p reelhouse` (run.sh does), pass "
              "--bin PATH, or run the DuckDB side alone with --only duckdb", file=sys.stderr)
        return 2
    if args.only != "reelhouse":
        try:
            import duckdb  # noqa: F401
        except ImportError:
            print("error: the duckdb Python package is missing; install it with "
                  "`python3 -m pip install duckdb` (run.sh does), or pass --only reelhouse",
                  file=sys.stderr)
            return 2

    gen = None
    if not data_complete(data):
        gen = generate(args, data)
    data_info = {f: (data / f).stat().st_size for f in FILES}
    print(f"data: {data} ({sum(data_info.values()) / 1e6:,.0f} MB)", flush=True)

    # Pin both sides to the same thread count.
    env = dict(os.environ)
    env.update({
        "RAYON_NUM_THREADS": str(args.threads),
        "TOKIO_WORKER_THREADS": str(args.threads),
        "DATAFUSION_EXECUTION_TARGET_PARTITIONS": str(args.threads),
        "RUST_LOG": env.get("RUST_LOG", "warn"),
    })

    sides = []
    if args.only != "duckdb":
        sides.append(("reelhouse", lambda: run_reelhouse(args, data, env)))
    if args.only != "reelhouse":
        sides.append(("duckdb-ratings", lambda: run_duckdb(args, data, "ratings", env)))
        if not args.no_duckdb_all:
            sides.append(("duckdb-all", lambda: run_duckdb(args, data, "all", env)))

    runs = []
    for rnd in range(1, args.runs + 1):
        for side, fn in sides:  # A B C, A B C: drift hits every side alike
            print(f"round {rnd}/{args.runs}: {side} ...", end=" ", flush=True)
            r = fn()
            r.update(side=side, round=rnd)
            if r.get("exit") == 0 and not r.get("error") and r.get("wall_s"):
                r["rows_per_s"] = args.ratings / r["wall_s"]
                print(f"{r['wall_s']:.2f}s, {r['peak_rss_mb']:.0f} MB", flush=True)
            else:
                print("FAILED", flush=True)
                print(f"  {r.get('error', '')}", file=sys.stderr, flush=True)
            runs.append(r)

    medians = {}
    for side, _ in sides:
        rs = [r for r in runs if r["side"] == side]
        medians[side] = {k: median_of(rs, k) for k in ("wall_s", "rows_per_s", "peak_rss_mb")}
    ref = medians.get("reelhouse", {}).get("wall_s")
    for side, m in medians.items():
        m["reelhouse_over_this"] = ref / m["wall_s"] if ref and m["wall_s"] else None

    results = {
        "params": {"ratings": args.ratings, "runs": args.runs, "seed": SEED,
                   "data": str(data), "bin": str(args.bin), "threads": args.threads},
        "machine": machine_info(args),
        "data_bytes": data_info,
        "generation": gen,
        "runs": runs,
        "medians": medians,
        "notes": [
            "warm page cache: the CSV set was read or written just before the runs",
            "reelhouse writes raw and clean Delta tables for all four files; "
            "duckdb-ratings writes one Parquet file, duckdb-all four",
            "wall_s is measured around the process, so it includes startup "
            "(DuckDB's Python import included; its in-process time is inner_s)",
        ],
    }
    md = report(results)
    results["markdown"] = md
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(md)
    print(f"\nresults: {args.out}")
    failed = [r for r in runs if r.get("exit") != 0 or r.get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
