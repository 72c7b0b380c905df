"""fluvial's public signatures beside MLflow 2.22.5's: every difference must be listed, with its reason,
in docs/api-differences.md, and every listed difference must still exist (the list stays true).

Compared: the names ``fluvial`` exports, ``MlflowClient``'s public methods, and the public functions
of ``fluvial.config``, ``fluvial.system_metrics``, ``fluvial.pyfunc``, ``fluvial.models`` and the flavor
modules. Both sides are described by the same
script (tests/meta/_signatures.py) run with each side's Python. A parameter's name, kind (positional,
keyword-only, ``*args``, ``**kwargs``), order and default are compared; annotations are not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
from _mlflow import _env, require_mlflow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT = HERE / "_signatures.py"
DOC = REPO / "docs" / "api-differences.md"
PREFIX = "SIGNATURES "

pytestmark = [pytest.mark.compat, pytest.mark.slow]


def _run(python: Path | str, *args: str) -> Any:
    proc = subprocess.run([str(python), str(SCRIPT), *args], cwd=HERE, env=_env(python, None),
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(PREFIX)]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len(PREFIX):])


def _fmt(param: list) -> str:
    name, kind, default = param
    star = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(kind, "")
    return f"{star}{name}" + (f"={default}" if default is not None else "")


def difference(ours: Any, theirs: Any) -> str | None:
    """A one-line description of how fluvial's signature differs from MLflow's (None: it does not)."""
    if theirs == "absent":
        return "not in MLflow"
    if ours == "value" or theirs == "value":
        return None if ours == theirs else f"fluvial: {ours if ours == 'value' else 'callable'}; MLflow: {theirs}"
    notes = []
    ours_by, theirs_by = {p[0]: p for p in ours}, {p[0]: p for p in theirs}
    var_kw = [p for p in ours if p[1] == "VAR_KEYWORD"], [p for p in theirs if p[1] == "VAR_KEYWORD"]
    if var_kw[0] and not var_kw[1]:
        notes.append("accepts **kwargs (unknown keywords)")
    elif var_kw[1] and not var_kw[0]:
        notes.append("no **kwargs")
    named = lambda ps: [p for p in ps if p[1] not in ("VAR_KEYWORD",)]  # noqa: E731
    missing = [_fmt(p) for p in named(theirs) if p[0] not in ours_by]
    extra = [_fmt(p) for p in named(ours) if p[0] not in theirs_by]
    if missing:
        notes.append("missing " + ", ".join(missing))
    if extra:
        notes.append("extra " + ", ".join(extra))
    common = [p[0] for p in named(ours) if p[0] in theirs_by]
    if common != [p[0] for p in named(theirs) if p[0] in ours_by]:
        notes.append("order (" + ", ".join(common) + ")")
    for name in common:
        mine, other = ours_by[name], theirs_by[name]
        if mine[1] != other[1]:
            notes.append(f"{name} is {mine[1].lower()} (MLflow: {other[1].lower()})")
        if mine[2] != other[2]:
            notes.append(f"{name} default {mine[2] or 'required'} (MLflow: {other[2] or 'required'})")
    return "; ".join(notes) or None


def documented() -> dict[str, str]:
    """name -> difference, from the table rows of docs/api-differences.md: | `name` | difference | reason |"""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| `([\w.]+)` \| (.+?) \| (.+?) \|$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} is listed twice"
            assert match.group(3).strip(), f"{match.group(1)}: no reason given"
            rows[match.group(1)] = match.group(2).replace("\\|", "|")
    return rows


@pytest.fixture(scope="module")
def differences() -> dict[str, str]:
    names = _run(sys.executable, "names", "fluvial")
    ours = _run(sys.executable, "describe", "fluvial", json.dumps(names))
    theirs = _run(require_mlflow(), "describe", "mlflow", json.dumps(names))
    found = {}
    for name in names:
        diff = difference(ours[name], theirs[name])
        if diff:
            found[name] = diff
    return found


def test_every_difference_is_documented(differences):
    listed = documented()
    undocumented = {n: d for n, d in differences.items() if listed.get(n) != d}
    report = "\n".join(f"| `{n}` | {d} | ? |" for n, d in sorted(undocumented.items()))
    assert not undocumented, f"signature differences missing from (or changed in) {DOC.name}:\n{report}"


def test_every_documented_difference_still_exists(differences):
    stale = sorted(set(documented()) - set(differences))
    assert not stale, f"{DOC.name} lists differences that no longer exist: {stale}"


def test_no_kwargs_swallowed_outside_flavors(differences):
    """A public function that takes **kwargs where MLflow's does not silently accepts misspelt keywords."""
    flavors = ("mlflow.sklearn.", "mlflow.xgboost.", "mlflow.lightgbm.", "mlflow.pytorch.")
    swallowing = [n for n, d in differences.items() if "accepts **kwargs" in d and not n.startswith(flavors)]
    assert swallowing == []


def test_difference_description():
    assert difference([["a", "POSITIONAL_OR_KEYWORD", None]], "absent") == "not in MLflow"
    ours = [["a", "POSITIONAL_OR_KEYWORD", None], ["kw", "VAR_KEYWORD", None]]
    theirs = [["a", "POSITIONAL_OR_KEYWORD", "1"], ["b", "KEYWORD_ONLY", "None"]]
    assert difference(ours, theirs) == "accepts **kwargs (unknown keywords); missing b=None; a default required (MLflow: 1)"
    assert difference(theirs, theirs) is None
