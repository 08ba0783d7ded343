#!/usr/bin/env bash
# Integration check of `reelhouse pipeline export-airflow`: installs apache-airflow from PyPI
# in a venv (data/airflow-venv, reused), exports every pipeline of a fresh workspace
# (the shipped movielens_daily and retrain_weekly, plus a pipeline using every task option)
# and loads the files with Airflow's own DagBag: no import errors, every task and edge there.
#
#   benches/pipelines/airflow_check.sh            # AIRFLOW_VERSION=3.1.3 to pin another
#
# Not part of the unit tests: installing Airflow takes minutes and needs PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  cargo build --release --workspace
fi
BIN="$PWD/target/release/reelhouse"
VENV=data/airflow-venv
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import airflow" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "apache-airflow${AIRFLOW_VERSION:+==$AIRFLOW_VERSION}"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$BIN" --no-progress init "$WORK/ws" >/dev/null
cat > "$WORK/ws/pipelines/everything.toml" <<'TOML'
description = "Every task option, for the export check"
schedule = "*/30 6-18 * * mon-fri"
catchup = true
start = "2025-04-01"
max_parallel = 3
[defaults]
retries = 2
retry_delay = "30s"
retry_backoff = 2.0
max_retry_delay = "5m"
timeout = "1h"
[params]
who = "it's \"quoted\""
[[task]]
id = "first-step"
kind = "shell"
command = "echo {{ params.who }} {{ ds }}"
depends_on_past = true
[[task]]
id = "second_step"
kind = "shell"
command = "true"
depends_on = ["first-step"]
timeout = "90s"
retries = 0
TOML
mkdir -p "$WORK/dags"
for p in movielens_daily retrain_weekly everything; do
  "$BIN" --no-progress --workspace "$WORK/ws" pipeline export-airflow "$p" --out "$WORK/dags/$p.py" >/dev/null
done

export AIRFLOW_HOME="$WORK/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$WORK/dags"
"$VENV/bin/python" - "$WORK/dags" <<'PY'
import sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.1
except ImportError:
    from airflow.models import DagBag
import airflow
import inspect
kwargs = {"include_examples": False} if "include_examples" in inspect.signature(DagBag.__init__).parameters else {}
bag = DagBag(dag_folder=sys.argv[1], **kwargs)
assert not bag.import_errors, bag.import_errors
want = {
    "movielens_daily": {"ingest", "clean", "validate", "daily_ratings", "rating_histogram", "top_rated"},
    "retrain_weekly": {"train", "evaluate", "promote"},
    "everything": {"first-step", "second_step"},
}
for dag_id, tasks in want.items():
    dag = bag.dags[dag_id]
    assert set(dag.task_dict) == tasks, (dag_id, set(dag.task_dict))
assert bag.dags["movielens_daily"].task_dict["clean"].upstream_task_ids == {"ingest"}
t = bag.dags["everything"].task_dict["first-step"]
assert t.retries == 2 and t.depends_on_past and t.retry_exponential_backoff, t
assert "--only first-step --no-retries" in t.bash_command, t.bash_command
print(f"Airflow {airflow.__version__}: {len(bag.dags)} DAGs parsed without import errors: {sorted(bag.dags)}")
PY
