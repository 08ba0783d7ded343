#!/usr/bin/env python3
"""Recommender benchmark: reelhouse vs Surprise on the peers' ML-100K split, side by side.

Each round runs, alternating: Surprise (one process fitting SVD(50, 20), SVDpp defaults,
BaselineOnly and KNNBaseline, timing `algo.fit` alone) and reelhouse (one
`reelhouse train recommender --train ... --test ... --no-register --format json` per model,
reading `fit_seconds`, the fit alone). RMSE/MAE are over all 20,000 test ratings, clipped.
Top-N rows (popularity, iALS, EASE) use the peers' protocol (README §2).

Usage (benches/reco/run.sh installs scikit-surprise and builds first):
  python3 benches/reco/bench_reco.py [--runs 5] [--bin target/release/reelhouse]
Prints a markdown table; writes benches/reco/results/latest.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPLITS = ROOT / "testdata/ml-100k-splits"
RESULTS = Path(__file__).resolve().parent / "results"

OURS = {
    "svd": ["--algo", "svd", "--factors", "50", "--epochs", "20"],
    "svdpp": ["--algo", "svdpp"],
    "baseline": ["--algo", "baseline"],
    "item-knn": ["--algo", "item-knn"],
    "popularity": ["--algo", "popularity"],
    "ials": ["--algo", "ials"],
    "ease": ["--algo", "ease"],
}


def ours(binary: str, ws: Path, name: str) -> dict:
    cmd = [binary, "--no-progress", "--workspace", str(ws), "--format", "json", "train", "recommender",
           *OURS[name], "--seed", "42", "--train", str(SPLITS / "train.csv"), "--test", str(SPLITS / "test.csv"),
           "--no-register", "--eval-users", "0"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    m = j["metrics"]
    return {"fit_seconds": j["fit_seconds"], "rmse": m.get("rmse"), "mae": m.get("mae"),
            "precision": m.get("precision_at_k"), "recall": m.get("recall_at_k"), "ndcg": m.get("ndcg_at_k")}


def peer(only: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).with_name("surprise_fit.py")), str(SPLITS), ",".join(only)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {j["model"]: j for j in map(json.loads, out.splitlines())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=str(ROOT / "target/release/reelhouse"))
    ap.add_argument("--models", default=",".join(OURS))
    args = ap.parse_args()
    models = args.models.split(",")
    peer_models = [m for m in models if m in ("svd", "svdpp", "baseline", "item-knn")]
    runs: dict[str, list[dict]] = {f"reelhouse {m}": [] for m in models}
    runs.update({f"surprise {m}": [] for m in peer_models})
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([args.bin, "init", str(ws)], check=True, capture_output=True)
        for r in range(args.runs):
            for m in models:
                runs[f"reelhouse {m}"].append(ours(args.bin, ws, m))
            if peer_models:
                for m, j in peer(peer_models).items():
                    runs[f"surprise {m}"].append(j)
            print(f"round {r + 1}/{args.runs} done", file=sys.stderr)
    med = {k: {f: statistics.median([x[f] for x in v]) if v and v[0].get(f) is not None else None
               for f in ("fit_seconds", "rmse", "mae", "precision", "recall", "ndcg")} for k, v in runs.items()}
    print("| model | side | median fit s | RMSE | MAE | P@10 | R@10 | NDCG@10 | fit vs Surprise |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda x, p=4: "" if x is None else f"{x:.{p}f}"
    for m in models:
        for side in ("reelhouse", "surprise"):
            k = f"{side} {m}"
            if k not in med:
                continue
            d = med[k]
            ratio = ""
            if side == "reelhouse" and f"surprise {m}" in med:
                ratio = f"{med[f'surprise {m}']['fit_seconds'] / d['fit_seconds']:.1f}x faster"
            print(f"| {m} | {side} | {d['fit_seconds']:.4f} | {fmt(d['rmse'])} | {fmt(d['mae'])} | {fmt(d['precision'])} | "
                  f"{fmt(d['recall'])} | {fmt(d['ndcg'])} | {ratio} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({"date": dt.datetime.now(dt.timezone.utc).isoformat(),
                                                     "runs": runs, "medians": med}, indent=1))


if __name__ == "__main__":
    main()
