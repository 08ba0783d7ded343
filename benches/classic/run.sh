#!/usr/bin/env bash
# Churn classifiers: reelhouse vs scikit-learn on the peers' telco split (testdata/churn),
# side by side in one run, alternating A B A B, medians and ratios.
#   benches/classic/run.sh [--rounds 5]
# SKIP_BUILD=1 reuses the build. Bounded: about a minute on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import sklearn, pandas" 2>/dev/null || python3 -m pip install --quiet "scikit-learn==1.9.1" pandas
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  # reel-ml alone: pure computation, no DataFusion (docs/classifiers.md).
  cargo build --release -p reel-ml --example tabular_fit
fi
exec python3 benches/classic/bench_classic.py "$@"
