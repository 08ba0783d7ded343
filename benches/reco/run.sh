#!/usr/bin/env bash
# Recommender benchmark: reelhouse vs Surprise (scikit-surprise from PyPI) on the peers' split.
#   benches/reco/run.sh [--runs 5] [--models svd,svdpp,...]
# SKIP_BUILD=1 reuses the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import surprise" 2>/dev/null || python3 -m pip install --quiet "scikit-surprise==1.1.5" pandas
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  cargo build --release --workspace
fi
exec python3 benches/reco/bench_reco.py "$@"
