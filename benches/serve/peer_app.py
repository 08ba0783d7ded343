"""Serving peer: FastAPI + uvicorn answering POST /predict with the pickled Surprise SVD(50) model.

Copied from the peers' benchmark scripts (shared/benchmarks/peer-scripts/serve/app.py), unchanged
but for this note. Run (from peers/):  MODEL_PATH=data/models/svd50.pkl .venv/bin/uvicorn app:app --app-dir scripts/serve \
                        --host 127.0.0.1 --port 18080 --workers 1 --no-access-log
"""
import os
import pickle

from fastapi import FastAPI
from pydantic import BaseModel

MODEL_PATH = os.environ.get("MODEL_PATH", "data/models/svd50.pkl")
with open(MODEL_PATH, "rb") as f:
    ALGO = pickle.load(f)  # surprise.SVD fitted on splits/ml100k/train.csv (raw ids are ints)

app = FastAPI()


class PredictRequest(BaseModel):
    user_id: int
    movie_id: int


class PredictResponse(BaseModel):
    predicted_rating: float


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/predict", response_model=PredictResponse)
async def predict(req: PredictRequest):
    # Surprise's own predict: clipped to [1, 5]; unknown user/movie fall back to baselines/global mean
    return PredictResponse(predicted_rating=ALGO.predict(req.user_id, req.movie_id).est)
