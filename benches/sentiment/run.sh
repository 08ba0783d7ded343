#!/usr/bin/env bash
# Review sentiment: reelhouse vs scikit-learn on the shared split (testdata/sentiment row ids
# into datasets/reviews), same texts (title + review), side by side, alternating.
#   benches/sentiment/run.sh [--rounds 3]
# SKIP_BUILD=1 reuses the build. Bounded: about a minute on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import sklearn, pandas" 2>/dev/null || python3 -m pip install --quiet "scikit-learn==1.9.1" pandas
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  cargo build --release -p reel-ml --example sentiment_fit
fi
exec python3 benches/sentiment/bench_sentiment.py "$@"
