#!/usr/bin/env python3
"""The peer side of benches/reco: fit Surprise models on the committed ML-100K split and print
one JSON object per model: {"model", "fit_seconds", "rmse", "mae"} (algo.test(), clipped)."""
import json
import sys
import time

import pandas as pd
from surprise import SVD, SVDpp, BaselineOnly, KNNBaseline, Dataset, Reader, accuracy

SPLITS = sys.argv[1]
ONLY = sys.argv[2].split(",") if len(sys.argv) > 2 else None
reader = Reader(rating_scale=(1, 5))
train = pd.read_csv(f"{SPLITS}/train.csv")
test = pd.read_csv(f"{SPLITS}/test.csv")
trainset = Dataset.load_from_df(train[["user_id", "movie_id", "rating"]], reader).build_full_trainset()
testset = [(int(u), int(i), float(r)) for u, i, r in test[["user_id", "movie_id", "rating"]].itertuples(index=False)]
algos = {
    "svd": lambda: SVD(n_factors=50, n_epochs=20, random_state=42),
    "svdpp": lambda: SVDpp(random_state=42),
    "baseline": lambda: BaselineOnly(verbose=False),
    "item-knn": lambda: KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False),
}
for name, make in algos.items():
    if ONLY and name not in ONLY:
        continue
    algo = make()
    t0 = time.perf_counter()
    algo.fit(trainset)
    fit = time.perf_counter() - t0
    preds = algo.test(testset)
    print(json.dumps({"model": name, "fit_seconds": fit, "rmse": accuracy.rmse(preds, verbose=False),
                      "mae": accuracy.mae(preds, verbose=False)}), flush=True)
