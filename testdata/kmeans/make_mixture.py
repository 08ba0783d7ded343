"""Writes the fixed synthetic mixture of the k-means tests and scikit-learn's answers on it.

mixture.csv: 600 rows, 3 features, 5 planted Gaussian clusters (fixed centres 8 apart, sd 1.0 to 1.4, numpy seed 7), column `truth`.
sklearn.json: KMeans(n_clusters=5) SSE with the default k-means++ and n_init=10 (random_state=0),
the k-means++ initial centres of one run (random_state=0) and the SSE Lloyd reaches from them.
Rerun with `python3 make_mixture.py` (scikit-learn 1.9.1); the files are committed.
"""
import json
import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

rng = np.random.RandomState(7)
centres = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8], [8, 8, 8]], dtype=float)
sizes = [150, 120, 130, 100, 100]
X = np.vstack([rng.normal(c, 1.0 + 0.1 * k, size=(n, 3)) for k, (c, n) in enumerate(zip(centres, sizes))])
truth = np.concatenate([[k] * n for k, n in enumerate(sizes)])
with open("mixture.csv", "w") as f:
    f.write("x1,x2,x3,truth\n")
    for row, t in zip(X, truth):
        f.write(f"{row[0]:.6f},{row[1]:.6f},{row[2]:.6f},{t}\n")
X = np.loadtxt("mixture.csv", delimiter=",", skiprows=1)[:, :3]
init, _ = kmeans_plusplus(X, 5, random_state=0)
fixed = KMeans(n_clusters=5, init=init, n_init=1, algorithm="lloyd").fit(X)
default = KMeans(n_clusters=5, n_init=10, random_state=0, algorithm="lloyd").fit(X)
json.dump({"init": init.tolist(), "sse_from_init": float(fixed.inertia_), "sse_default": float(default.inertia_),
           "sklearn": "1.9.1"}, open("sklearn.json", "w"), indent=1)
print(fixed.inertia_, default.inertia_)
