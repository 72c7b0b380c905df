#!/usr/bin/env bash
# Create .venv and install fluvial into it in editable mode:
#   scripts/ensure-venv.sh              python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"
#   scripts/ensure-venv.sh quickstart   the same with ".[quickstart]" (scikit-learn + server only: make run)
# Idempotent and quick: re-installs only when pyproject.toml is newer than the profile's stamp
# (.venv/.stamp for dev, .venv/.stamp-quickstart; written only after a successful install) or the
# venv's python is broken. A current dev install covers the quickstart, so it skips that install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
profile=${1:-dev}
case $profile in
    dev) stamp=.venv/.stamp ;;
    quickstart) stamp=.venv/.stamp-quickstart ;;
    *) echo "ensure-venv: unknown profile '$profile' (dev or quickstart)" >&2; exit 2 ;;
esac

fresh() { [[ -f $1 && ! pyproject.toml -nt $1 ]]; }
if .venv/bin/python -c '' 2>/dev/null && { fresh "$stamp" || { [[ $profile == quickstart ]] && fresh .venv/.stamp; }; }; then
    exit 0
fi
if ! .venv/bin/python -c '' 2>/dev/null; then
    echo "ensure-venv: creating .venv with $PYTHON"
    rm -rf .venv
    "$PYTHON" -m venv .venv || {
        echo "ensure-venv: ERROR: '$PYTHON -m venv' failed. Install Python 3.10+ with venv" \
             "(Debian: apt-get install python3-venv) or set PYTHON=/path/to/python3." >&2
        exit 1
    }
fi
rm -f "$stamp"
echo "ensure-venv: pip install -e \".[$profile]\" (pyproject.toml changed or first run) ..."
.venv/bin/pip install -q -e ".[$profile]" || {
    echo "ensure-venv: ERROR: pip install -e \".[$profile]\" failed (output above)." >&2
    echo "  Fix pyproject.toml or the package index (pip config list), then re-run make." >&2
    exit 1
}
touch "$stamp"
echo "ensure-venv: .venv ready"
