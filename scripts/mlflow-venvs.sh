#!/usr/bin/env bash
# Create the MLflow virtualenvs that compat tests and benchmarks drive, each in its own venv:
#   .venvs/mlflow-2.22.5   .venvs/mlflow-3.17.2
# With `old`: the older releases whose databases tests/migrations upgrades (see OLD below) instead:
#   .venvs/mlflow-1.30.1   .venvs/mlflow-2.0.1   .venvs/mlflow-2.9.2   .venvs/mlflow-2.16.2
# Idempotent: a venv counts as done only when its .stamp holds the exact pip spec it was built
# with; the stamp is written after a successful install, so a half-installed venv is rebuilt.
# Both installs run in parallel; pip's output goes to .venvs/mlflow-VERSION.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# ensure VERSION PIP-ARGS...: make .venvs/mlflow-VERSION hold mlflow==VERSION (plus the pins).
ensure() {
    local version=$1; shift
    local dir=.venvs/mlflow-$version spec="$*"
    local stamp=$dir/.stamp log=.venvs/mlflow-$version.log
    if [[ -x $dir/bin/python && -f $stamp && $(<"$stamp") == "$spec" ]]; then
        return 0
    fi
    # A venv made by hand without a stamp: keep it if mlflow imports at the right version.
    if [[ -x $dir/bin/python && ! -f $stamp ]] &&
       [[ $("$dir/bin/python" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null) == "$version" ]]; then
        echo "mlflow-venvs: $dir already works (mlflow $version); stamping it"
        printf '%s' "$spec" >"$stamp"
        return 0
    fi
    echo "mlflow-venvs: building $dir (pip install $spec; log: $log) ..."
    rm -rf "$dir"
    if ! { "$PYTHON" -m venv "$dir" && "$dir/bin/pip" install "$@"; } >"$log" 2>&1 ||
       [[ $("$dir/bin/python" -c 'import mlflow; print(mlflow.__version__)' 2>>"$log") != "$version" ]]; then
        tail -n 25 "$log" >&2
        echo "mlflow-venvs: ERROR: installing mlflow $version into $dir failed (full log: $log)." >&2
        echo "  Check that PyPI is reachable (pip config list), then re-run scripts/mlflow-venvs.sh." >&2
        return 1
    fi
    printf '%s' "$spec" >"$stamp"
    echo "mlflow-venvs: $dir ready (mlflow $version)"
}

mkdir -p .venvs
if [[ ${1:-} == old ]]; then
    # Only what creating a database needs; the pins keep older releases installable on Python 3.11
    # (SQLAlchemy 1.4 for 1.x/2.0, pandas 1.x wheels, Flask 2 with Werkzeug 2). 1.30.1 also gets the
    # PostgreSQL and MySQL drivers: tests/migrations fills databases on those servers with it.
    pins=("sqlalchemy<2" "numpy<2" "pandas<2" "werkzeug<3" "setuptools<70")
    ensure 1.30.1 mlflow==1.30.1 "${pins[@]}" psycopg2-binary pymysql & a=$!
    ensure 2.0.1 mlflow==2.0.1 "${pins[@]}" & b=$!
    ensure 2.9.2 mlflow==2.9.2 "sqlalchemy<2.1" "numpy<2" "setuptools<70" & c=$!
    ensure 2.16.2 mlflow==2.16.2 "sqlalchemy<2.1" "numpy<2" & d=$!
    status=0
    for pid in "$a" "$b" "$c" "$d"; do wait "$pid" || status=1; done
    # MLflow 2.22.5 upgrades and reads those databases too: add the two drivers to its venv (built by
    # the default mode) without rebuilding it.
    current=.venvs/mlflow-2.22.5/bin/python
    if [[ -x $current ]] && ! "$current" -c 'import psycopg2, pymysql' 2>/dev/null; then
        echo "mlflow-venvs: adding psycopg2-binary and pymysql to .venvs/mlflow-2.22.5 ..."
        "$current" -m pip install -q psycopg2-binary pymysql >>.venvs/mlflow-2.22.5.log 2>&1 || {
            echo "mlflow-venvs: ERROR: pip install psycopg2-binary pymysql into .venvs/mlflow-2.22.5 failed." >&2
            status=1
        }
    fi
    exit "$status"
fi
# 2.22.5 also gets the autologging libraries, for the flavor and autologging compat tests (torch: the CPU
# build on the machines' disk)
# and the libraries of the other flavors' cross-format tests (issue 16; CPU wheels, torch kept at its pin)
ensure 2.22.5 mlflow==2.22.5 "sqlalchemy<2.1" "starlette<1" xgboost lightgbm torch==2.13.0 lightning \
    statsmodels catboost onnx onnxruntime skl2onnx keras & a=$!
ensure 3.17.2 mlflow==3.17.2 & b=$!
status=0
wait "$a" || status=1
wait "$b" || status=1
# The Spark MLlib and Prophet cross-format tests (issue 16) need pyspark and prophet next to MLflow 2.22.5;
# added on their own so an existing venv is not rebuilt.
dir=.venvs/mlflow-2.22.5
if [[ -x $dir/bin/python ]] && ! "$dir/bin/python" -c 'import pyspark, prophet' 2>/dev/null; then
    "$dir/bin/pip" install -q "pyspark>=3.4" prophet >>.venvs/mlflow-2.22.5.log 2>&1 || status=1
fi
# The basic-auth app (mlflow[auth]) needs Flask-WTF: the auth compat tests start MLflow's auth server and
# use its auth client. Added on its own so existing venvs are not rebuilt.
for version in 2.22.5 3.17.2; do
    dir=.venvs/mlflow-$version
    if [[ -x $dir/bin/python ]] && ! "$dir/bin/python" -c 'import flask_wtf' 2>/dev/null; then
        "$dir/bin/pip" install -q flask-wtf >>".venvs/mlflow-$version.log" 2>&1 || status=1
    fi
done
# transformers/sentence-transformers cross-format tests and the SHAP compat tests (flavor and evaluate's
# explainability): MLflow 2.22.5 cannot save pipelines of
# transformers 5, so its venv gets the newest releases it supports (added on their own, no rebuild).
dir=.venvs/mlflow-2.22.5
if [[ -x $dir/bin/python ]] && ! "$dir/bin/python" -c '
import transformers, sentence_transformers, shap
assert transformers.__version__.startswith("4.")' 2>/dev/null; then
    echo "mlflow-venvs: adding transformers<4.52, sentence-transformers<4.1 and shap to $dir ..."
    "$dir/bin/pip" install -q "transformers>=4.35.2,<4.52" "sentence-transformers<4.1" shap \
        >>.venvs/mlflow-2.22.5.log 2>&1 || status=1
fi
exit "$status"
