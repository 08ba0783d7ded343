"""Training time (TF-IDF fit + transform of the training texts + classifier fit) and
macro-F1 of the sentiment model, reelhouse (reel-ml's sentiment_fit example) next to
scikit-learn's TfidfVectorizer(ngram_range=(1,2), min_df=2, sublinear_tf=True) +
LogisticRegression(max_iter=1000, class_weight='balanced'), alternating each round.
Both read the same CSVs, written here into data/sentiment/ (git-ignored):
text = Title + " . " + Review Text of the split's rows; also the text-only variant."""
import argparse, json, statistics, subprocess, sys, time
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parents[2]
EXE = ROOT / "target/release/examples/sentiment_fit"
OUT = ROOT / "data/sentiment"


def write_splits():
    OUT.mkdir(parents=True, exist_ok=True)
    src = pd.read_csv(ROOT / "datasets/reviews/womens_clothing_reviews.csv")
    for name in ["train", "test"]:
        ids = pd.read_csv(ROOT / f"testdata/sentiment/{name}.csv")
        text = src["Review Text"].iloc[ids.row_id].fillna("").values
        title = src["Title"].iloc[ids.row_id].fillna("").values
        pd.DataFrame({"text": [f"{a} . {b}" for a, b in zip(title, text)], "label": ids.label}).to_csv(OUT / f"{name}_title_text.csv", index=False)
        pd.DataFrame({"text": text, "label": ids.label}).to_csv(OUT / f"{name}_text.csv", index=False)


def sklearn_once(variant):
    tr = pd.read_csv(OUT / f"train_{variant}.csv", keep_default_na=False)
    te = pd.read_csv(OUT / f"test_{variant}.csv", keep_default_na=False)
    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    X = vec.fit_transform(tr.text)
    clf = LogisticRegression(max_iter=1000, class_weight="balanced").fit(X, tr.label)
    fit = time.perf_counter() - t0
    pred = clf.predict(vec.transform(te.text))
    return fit, f1_score(te.label, pred, average="macro"), accuracy_score(te.label, pred)


def ours_once(variant):
    out = subprocess.run([str(EXE), str(OUT / f"train_{variant}.csv"), str(OUT / f"test_{variant}.csv")], check=True, capture_output=True, text=True).stdout
    j = json.loads(out.strip().splitlines()[-1])
    return j["fit_seconds_median"], j["macro_f1"], j["accuracy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    write_splits()
    res = {}
    for r in range(a.rounds):
        for variant in ["title_text", "text"]:
            for side, fn in [("reelhouse", ours_once), ("scikit-learn", sklearn_once)]:
                t, f1, acc = fn(variant)
                res.setdefault((variant, side), []).append((t, f1, acc))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    print("| texts | side | macro-F1 | accuracy | median training s | runs | sklearn / reelhouse |")
    print("|---|---|---:|---:|---:|---|---:|")
    for variant in ["title_text", "text"]:
        ours = statistics.median(x[0] for x in res[(variant, "reelhouse")])
        for side in ["reelhouse", "scikit-learn"]:
            xs = res[(variant, side)]
            m = statistics.median(x[0] for x in xs)
            ratio = f"{m / ours:.2f}" if side == "scikit-learn" else ""
            print(f"| {variant} | {side} | {xs[-1][1]:.4f} | {xs[-1][2]:.4f} | {m:.3f} | {', '.join(f'{x[0]:.3f}' for x in xs)} | {ratio} |")


if __name__ == "__main__":
    main()
