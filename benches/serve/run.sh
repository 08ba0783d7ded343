#!/usr/bin/env bash
# Serving benchmark: reelhouse serve vs FastAPI + uvicorn + a pickled Surprise SVD(50), same
# model parameters, same wrk request mix, loopback only, alternating, bounded in time
# (about 4 minutes by default; --soak 300 adds the 5-minute memory soak).
#   benches/serve/run.sh [--rounds 3] [--duration 10] [--soak 300] [--max-inflight 512]
# SKIP_BUILD=1 reuses the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
  echo "[run.sh] installing wrk from Debian's packages" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
python3 -c "import fastapi, uvicorn, uvloop, httptools, surprise, pandas" 2>/dev/null \
  || python3 -m pip install --quiet fastapi "uvicorn[standard]" "scikit-surprise==1.1.5" pandas
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  cargo build --release --workspace
fi
exec python3 benches/serve/bench_serve.py "$@"
