"""Fit times of the churn models, reelhouse (reel-ml's tabular_fit example) next to
scikit-learn, alternating sides each round. Both fit preprocessing + model on
testdata/churn/train.csv and score testdata/churn/test.csv; the figure is the fit alone."""
import argparse, json, statistics, subprocess, sys, time
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parents[2]
TRAIN, TEST = ROOT / "testdata/churn/train.csv", ROOT / "testdata/churn/test.csv"
EXE = ROOT / "target/release/examples/tabular_fit"

OURS = {
    "logreg": ["logreg"],
    "logreg-binned": ["logreg", "bins=10", "class_weight=balanced", "c=0.05"],
    "forest": ["forest"],
    "gbt": ["gbt"],
}


def load(p):
    df = pd.read_csv(p)
    y = (df.pop("churn") == "Yes").astype(int).to_numpy()
    df = df.drop(columns=["rownames"])
    df["total_charges"] = df["total_charges"].fillna(0.0)
    return df, y


def sk_models():
    return {
        "logreg": lambda: LogisticRegression(max_iter=1000),
        "forest": lambda: RandomForestClassifier(n_estimators=200, random_state=42, n_jobs=2),
        "gbt": lambda: HistGradientBoostingClassifier(random_state=42),
    }


def run_sklearn(name, Xtr, ytr, Xte, yte):
    cat = [c for c in Xtr.columns if not pd.api.types.is_numeric_dtype(Xtr[c])]
    num = [c for c in Xtr.columns if c not in cat]
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cat), ("num", StandardScaler(), num)])
    pipe = Pipeline([("pre", pre), ("clf", sk_models()[name]())])
    t0 = time.perf_counter()
    pipe.fit(Xtr, ytr)
    fit = time.perf_counter() - t0
    return fit, roc_auc_score(yte, pipe.predict_proba(Xte)[:, 1])


def run_ours(name):
    out = subprocess.run([str(EXE), str(TRAIN), str(TEST), "churn", *OURS[name]], check=True, capture_output=True, text=True).stdout
    j = json.loads(out.strip().splitlines()[-1])
    return j["fit_seconds_median"], j["roc_auc"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    Xtr, ytr = load(TRAIN)
    Xte, yte = load(TEST)
    times = {}
    aucs = {}
    for r in range(a.rounds):
        for name in OURS:
            t, auc = run_ours(name)
            times.setdefault(("reelhouse", name), []).append(t)
            aucs[("reelhouse", name)] = auc
            if name in sk_models():
                t, auc = run_sklearn(name, Xtr, ytr, Xte, yte)
                times.setdefault(("scikit-learn", name), []).append(t)
                aucs[("scikit-learn", name)] = auc
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    print("| model | side | ROC AUC | median fit s | runs | sklearn / reelhouse |")
    print("|---|---|---:|---:|---|---:|")
    for name in OURS:
        ours = statistics.median(times[("reelhouse", name)])
        for side in ["reelhouse", "scikit-learn"]:
            if (side, name) not in times:
                continue
            m = statistics.median(times[(side, name)])
            ratio = f"{m / ours:.2f}" if side == "scikit-learn" else ""
            runs = ", ".join(f"{x:.3f}" for x in times[(side, name)])
            print(f"| {name} | {side} | {aucs[(side, name)]:.4f} | {m:.3f} | {runs} | {ratio} |")
    print("\nscikit-learn: LogisticRegression(max_iter=1000), RandomForestClassifier(200, n_jobs=2), "
          "HistGradientBoostingClassifier() defaults; reelhouse defaults (forest 200 trees on 2 threads).")


if __name__ == "__main__":
    main()
