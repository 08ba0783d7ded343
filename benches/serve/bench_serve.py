#!/usr/bin/env python3
"""Serving benchmark: reelhouse serve vs the FastAPI + uvicorn peer serving a pickled Surprise SVD(50).

Both sides serve an SVD with 50 factors and 20 epochs (seed 42) fit on the peers' ML-100K
train split (testdata/ml-100k-splits/train.csv). The same wrk request mix hits both, on
loopback, alternating A B A B, with a warm-up before each side's first run:

  predict     wrk -t2 -c32 POST /predict, 1,000 distinct bodies from test.csv (peer and ours)
  recommend   wrk -t2 -c32 GET /recommend/{user}?k=10 over 943 users (ours; the peer has none)
  promotion   /predict load while the champion is swapped back and forth through
              POST /models/recommender/promote: counts non-2xx answers
  overload    c = 2 x --max-inflight connections: must keep answering (503 shedding allowed),
              then a normal run right after must be back to full speed with no errors
  access-log  /predict again with --access-log to a file: what the log costs
  soak        (--soak SECONDS) a predict+recommend mix while sampling the server's RSS

Usage (benches/serve/run.sh installs wrk, fastapi, uvicorn and scikit-surprise, then builds):
  python3 benches/serve/bench_serve.py [--rounds 3] [--duration 10] [--soak 300]
Prints a markdown summary; writes benches/serve/results/latest.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SPLITS = ROOT / "testdata/ml-100k-splits"
RESULTS = HERE / "results"
TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_up(url: str, proc: subprocess.Popen, limit: float = 60) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {limit} s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * UNIT[m.group(2)]


def wrk(url: str, script: Path, duration: float, conns: int = 32, env: dict | None = None) -> dict:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{duration:g}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=duration + 60).stdout
    res = {"cmd": " ".join(cmd)}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        res[f"p{p}_ms"] = ms(m.group(1)) if m else float("nan")
    m = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    if m:
        res["mean_ms"], res["max_ms"] = ms(m.group(1)), ms(m.group(3))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return res


def median_of(runs: list[dict], key: str) -> float:
    vals = [r[key] for r in runs if r.get(key) == r.get(key)]
    return statistics.median(vals) if vals else float("nan")


class Server:
    def __init__(self, cmd: list[str], health: str, env: dict | None = None, cwd: Path | None = None):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd,
                                     start_new_session=True)
        self.startup = wait_up(health, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-2000:]


def run(cmd: list[str], **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="measured A B rounds of /predict (default 3)")
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per side (default 2)")
    ap.add_argument("--soak", type=float, default=0, help="seconds of soak with RSS sampling (0 = skip; 300 = the 5-minute soak)")
    ap.add_argument("--max-inflight", type=int, default=512, help="reelhouse serve --max-inflight (default 512)")
    ap.add_argument("--bin", default=str(ROOT / "target/release/reelhouse"))
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="reel-serve-bench-"))
    bodies = work / "bodies.txt"
    with open(SPLITS / "test.csv") as f, open(bodies, "w") as out:
        next(f)
        for k, line in enumerate(f):
            if k == 1000:
                break
            u, i, _, _ = line.strip().split(",")
            out.write(json.dumps({"user_id": int(u), "movie_id": int(i)}) + "\n")
    env = {"WRK_BODIES": str(bodies)}

    # --- the models -----------------------------------------------------------------------
    print("[bench] fitting Surprise SVD(50) and reelhouse svd(50) on the peers' train split", file=sys.stderr)
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    train = pd.read_csv(SPLITS / "train.csv")
    trainset = Dataset.load_from_df(train[["user_id", "movie_id", "rating"]], Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = SVD(n_factors=50, n_epochs=20, random_state=42)
    algo.fit(trainset)
    pkl = work / "svd50.pkl"
    pkl.write_bytes(pickle.dumps(algo))
    peer_ref = algo.predict(196, 242).est

    ws = work / "ws"
    rh = [a.bin, "--no-progress", "--workspace", str(ws)]
    run([a.bin, "--no-progress", "init", str(ws)])
    run(rh + ["ingest", "movielens", str(ROOT / "datasets/movielens-100k")])
    common = ["train", "recommender", "--algo", "svd", "--factors", "50", "--epochs", "20", "--train", str(SPLITS / "train.csv"),
              "--test", str(SPLITS / "test.csv"), "--no-topn", "--format", "json"]
    run(rh + common + ["--seed", "42", "--promote"])
    run(rh + common + ["--seed", "43"])  # version 2, for the promotion under load

    # --- the servers ----------------------------------------------------------------------
    pport, oport = free_port(), free_port()
    peer_url, ours_url = f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{oport}"
    peer = Server([sys.executable, "-m", "uvicorn", "peer_app:app", "--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(pport),
                   "--workers", "1", "--no-access-log"], f"{peer_url}/health", env={"MODEL_PATH": str(pkl)})
    ours_cmd = rh + ["serve", "--addr", f"127.0.0.1:{oport}", "--poll", "0", "--max-inflight", str(a.max_inflight)]
    try:
        ours = Server(ours_cmd, f"{ours_url}/ready", env={"REELHOUSE_SERVE_TOKEN": TOKEN})
        measure(a, work, env, peer, ours, peer_url, ours_url, ours_cmd, peer_ref)
    finally:
        peer.stop()


def measure(a, work, env, peer, ours, peer_url, ours_url, ours_cmd, peer_ref) -> None:
    post_lua, rec_lua, mix_lua = HERE / "post.lua", HERE / "recommend.lua", HERE / "mix.lua"
    results: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "duration_s": a.duration, "rounds": a.rounds,
                     "startup_s": {"peer": peer.startup, "reelhouse": ours.startup}, "nproc": os.cpu_count()}
    try:
        _, pj = http("POST", f"{peer_url}/predict", {"user_id": 196, "movie_id": 242})
        _, oj = http("POST", f"{ours_url}/predict", {"user_id": 196, "movie_id": 242})
        results["check_196_242"] = {"surprise_in_process": peer_ref, "peer_http": pj.get("predicted_rating"), "reelhouse_http": oj.get("predicted_rating")}
        print(f"[bench] (196, 242): Surprise {peer_ref:.3f}, peer {pj.get('predicted_rating'):.3f}, reelhouse {oj.get('predicted_rating'):.3f}", file=sys.stderr)

        # Warm-up, then A B A B.
        wrk(f"{peer_url}/predict", post_lua, a.warmup, env=env)
        wrk(f"{ours_url}/predict", post_lua, a.warmup, env=env)
        runs = {"peer": [], "reelhouse": []}
        for r in range(a.rounds):
            for side, url in (("peer", peer_url), ("reelhouse", ours_url)):
                res = wrk(f"{url}/predict", post_lua, a.duration, env=env)
                runs[side].append(res)
                print(f"[bench] round {r + 1} {side:9} /predict {res['rps']:>9.0f} req/s  p99 {res['p99_ms']:.2f} ms  non-2xx {res['non_2xx']}", file=sys.stderr)
        results["predict"] = runs
        rec = []
        wrk(f"{ours_url}/recommend/1", rec_lua, a.warmup)
        for r in range(a.rounds):
            res = wrk(f"{ours_url}/recommend/1", rec_lua, a.duration)
            rec.append(res)
            print(f"[bench] round {r + 1} reelhouse /recommend k=10 {res['rps']:>9.0f} req/s  p99 {res['p99_ms']:.2f} ms", file=sys.stderr)
        results["recommend"] = rec

        # Promotion under load: swap 2, 1, 2, ... every ~second while wrk runs.
        swaps: list[int] = []
        stop = threading.Event()

        def promoter() -> None:
            v = 2
            time.sleep(1)
            while not stop.is_set():
                st, _ = http("POST", f"{ours_url}/models/recommender/promote", {"version": v, "force": True}, token=TOKEN)
                swaps.append(st)
                v = 1 if v == 2 else 2
                stop.wait(1)

        t = threading.Thread(target=promoter)
        t.start()
        res = wrk(f"{ours_url}/predict", post_lua, a.duration, env=env)
        stop.set()
        t.join()
        results["promotion_under_load"] = {"wrk": res, "promote_statuses": swaps}
        print(f"[bench] promotion under load: {len(swaps)} swaps {swaps}, {res['non_2xx']} non-2xx of {res['requests']}, socket errors {res['socket_errors']}", file=sys.stderr)

        # Overload at twice the in-flight limit, then recovery.
        over = wrk(f"{ours_url}/predict", post_lua, a.duration, conns=2 * a.max_inflight, env=env)
        after = wrk(f"{ours_url}/predict", post_lua, a.duration, env=env)
        results["overload"] = {"at_2x": over, "after": after}
        print(f"[bench] overload c={2 * a.max_inflight}: {over['rps']:.0f} req/s, {over['non_2xx']} shed (503), p99 {over['p99_ms']:.1f} ms; "
              f"after: {after['rps']:.0f} req/s, {after['non_2xx']} non-2xx", file=sys.stderr)
    finally:
        ours.stop()

    # The access log's cost: the same /predict run with and without it, alternating.
    log_file = work / "access.log"
    pair = {"off": [], "on": []}
    for r in range(max(1, a.rounds - 1)):
        for mode in ("off", "on"):
            extra = ["--access-log", str(log_file)] if mode == "on" else []
            s = Server(ours_cmd + extra, f"{ours_url}/ready", env={"REELHOUSE_SERVE_TOKEN": TOKEN})
            try:
                wrk(f"{ours_url}/predict", post_lua, a.warmup, env=env)
                pair[mode].append(wrk(f"{ours_url}/predict", post_lua, a.duration, env=env))
            finally:
                s.stop()
    results["access_log"] = pair
    print(f"[bench] access log off {median_of(pair['off'], 'rps'):.0f} req/s, on {median_of(pair['on'], 'rps'):.0f} req/s", file=sys.stderr)

    if a.soak > 0:
        s = Server(ours_cmd, f"{ours_url}/ready", env={"REELHOUSE_SERVE_TOKEN": TOKEN})
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sampler() -> None:
            t0 = time.monotonic()
            while not done.is_set():
                samples.append((round(time.monotonic() - t0, 1), rss_mib(s.proc.pid)))
                done.wait(5)

        th = threading.Thread(target=sampler)
        th.start()
        try:
            res = wrk(f"{ours_url}/predict", mix_lua, a.soak, env=env)
        finally:
            done.set()
            th.join()
            s.stop()
        rss = [x for _, x in samples]
        # Flat: the last minute's peak is within 10% of the first minute's (after warm-up).
        first = max(x for t_, x in samples if t_ <= 60) if samples else float("nan")
        last = max(x for t_, x in samples if t_ >= samples[-1][0] - 60) if samples else float("nan")
        results["soak"] = {"wrk": res, "rss_mib": samples, "first_minute_peak": first, "last_minute_peak": last}
        print(f"[bench] soak {a.soak:.0f} s: {res['rps']:.0f} req/s, {res['non_2xx']} non-2xx; RSS {min(rss):.1f}..{max(rss):.1f} MiB "
              f"(first minute peak {first:.1f}, last minute peak {last:.1f})", file=sys.stderr)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=1))

    pr, orr = results["predict"]["peer"], results["predict"]["reelhouse"]
    p_rps, o_rps = median_of(pr, "rps"), median_of(orr, "rps")
    print()
    print(f"Serving benchmark, {dt.date.today()}, {a.rounds} rounds of {a.duration:g} s, wrk -t2 -c32, loopback, {os.cpu_count()} cores shared with wrk")
    print()
    print("| side | route | median req/s | p50 ms | p90 ms | p99 ms | non-2xx | vs peer |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, rr in (("FastAPI + Surprise", pr), ("reelhouse", orr)):
        print(f"| {name} | POST /predict | {median_of(rr, 'rps'):,.0f} | {median_of(rr, 'p50_ms'):.2f} | {median_of(rr, 'p90_ms'):.2f} | "
              f"{median_of(rr, 'p99_ms'):.2f} | {sum(r['non_2xx'] for r in rr)} | {median_of(rr, 'rps') / p_rps:.1f}x |")
    rec = results["recommend"]
    print(f"| reelhouse | GET /recommend k=10 | {median_of(rec, 'rps'):,.0f} | {median_of(rec, 'p50_ms'):.2f} | {median_of(rec, 'p90_ms'):.2f} | "
          f"{median_of(rec, 'p99_ms'):.2f} | {sum(r['non_2xx'] for r in rec)} | - |")
    print()
    pu = results["promotion_under_load"]
    print(f"Promotion under load: {len(pu['promote_statuses'])} swaps (statuses {sorted(set(pu['promote_statuses']))}), "
          f"{pu['wrk']['non_2xx']} non-2xx of {pu['wrk']['requests']} requests, {pu['wrk']['socket_errors']} socket errors.")
    ov = results["overload"]
    print(f"Overload (c={2 * a.max_inflight}): {ov['at_2x']['rps']:,.0f} req/s answered, {ov['at_2x']['non_2xx']} shed with 503, "
          f"p99 {ov['at_2x']['p99_ms']:.1f} ms; right after at c=32: {ov['after']['rps']:,.0f} req/s, {ov['after']['non_2xx']} non-2xx.")
    print(f"Access log: off {median_of(pair['off'], 'rps'):,.0f} req/s, on {median_of(pair['on'], 'rps'):,.0f} req/s.")
    print(f"Startup until ready: peer {peer.startup:.2f} s, reelhouse {results['startup_s']['reelhouse']:.2f} s.")
    print(f"Goals: /predict >= 15x the peer: {o_rps / p_rps:.1f}x; p99 <= 2 ms: {median_of(orr, 'p99_ms'):.2f} ms; "
          f"/recommend >= 20k req/s: {median_of(rec, 'rps'):,.0f}.")


if __name__ == "__main__":
    main()
