#!/usr/bin/env bash
# Create .venv and install fluvial into it in editable mode with the dev extras:
#   python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"
# Idempotent and quick: re-installs only when pyproject.toml is newer than .venv/.stamp
# (the stamp is written only after a successful install) or the venv's python is broken.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.stamp

if [[ -f $stamp && ! pyproject.toml -nt $stamp ]] && .venv/bin/python -c '' 2>/dev/null; then
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
echo "ensure-venv: pip install -e \".[dev]\" (pyproject.toml changed or first run) ..."
.venv/bin/pip install -q -e ".[dev]" || {
    echo "ensure-venv: ERROR: pip install -e \".[dev]\" failed (output above)." >&2
    echo "  Fix pyproject.toml or the package index (pip config list), then re-run make." >&2
    exit 1
}
touch "$stamp"
echo "ensure-venv: .venv ready"
