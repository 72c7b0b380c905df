"""`make run` installs only what the quickstart needs: the `quickstart` extra (scikit-learn and the
server), under its own stamp so `make test`'s dev install still happens; the quickstart imports
nothing else; and afterwards it serves the quickstart's data with `fluvial ui`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; CI runs 3.11
REPO = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "lightning", "pyspark", "moto", "xgboost", "lightgbm", "boto3", "psycopg", "matplotlib"}


def _extra(name: str, extras: dict[str, list[str]], seen: set[str] | None = None) -> set[str]:
    """The distribution names an extra installs (fluvial[...] references expanded)."""
    seen = seen if seen is not None else set()
    found: set[str] = set()
    for requirement in extras[name]:
        match = re.match(r"fluvial\[([^\]]+)\]", requirement)
        if match:
            for inner in match.group(1).split(","):
                if inner not in seen:
                    seen.add(inner)
                    found |= _extra(inner.strip(), extras, seen)
        else:
            found.add(re.split(r"[<>=!;\[ ]", requirement, maxsplit=1)[0].lower())
    return found


def test_quickstart_extra_is_small():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    installed = _extra("quickstart", project["optional-dependencies"])
    assert {"scikit-learn", "starlette", "uvicorn", "pandas"} <= installed
    assert installed & HEAVY == set()


def test_quickstart_imports_only_what_the_extra_installs():
    tree = ast.parse((REPO / "examples" / "quickstart.py").read_text())
    modules = {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert modules - {"__future__", "os"} == {"sklearn", "fluvial"}


def test_make_run_uses_its_own_stamp_and_serves_afterwards():
    makefile = (REPO / "Makefile").read_text()
    run = re.search(r"^run: (.*)\n((?:\t.*\n|@.*\n)+)", makefile, re.MULTILINE)
    assert run and run.group(1).strip() == ".venv/.stamp-quickstart"
    assert "ensure-venv.sh quickstart" in makefile
    recipe = run.group(2)
    assert "examples/quickstart.py" in recipe and "fluvial ui" in recipe and "--host 127.0.0.1" in recipe
    assert re.search(r"^\.venv/\.stamp: pyproject\.toml\n\t.*ensure-venv\.sh$", makefile, re.MULTILINE)
    script = (REPO / "scripts" / "ensure-venv.sh").read_text()
    assert "stamp=.venv/.stamp-quickstart" in script and "stamp=.venv/.stamp ;;" in script
