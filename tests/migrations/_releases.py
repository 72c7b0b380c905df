"""Databases written by older MLflow releases, each installed in its own virtualenv under ``.venvs/``
(``scripts/mlflow-venvs.sh old``; ``make test`` builds them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _mlflow import mlflow_python, run_script  # tests/compat, put on sys.path by conftest.py
from _scripts import FILL

# Releases whose databases are upgraded, and the revision each leaves (1.30.1 and 2.0.1 share one).
RELEASES = {"1.30.1": "97727af70f4d", "2.0.1": "97727af70f4d", "2.9.2": "acf3f17fdcc7", "2.16.2": "4465047574b1"}


def release_python(version: str) -> Path:
    python = mlflow_python(version)
    if python is None:
        pytest.skip(f"MLflow {version} is not installed in .venvs/mlflow-{version} "
                    "(create it with `bash scripts/mlflow-venvs.sh old`, which `make test` runs)")
    return python


def for_mlflow(uri: str) -> str:
    """The URI as MLflow's virtualenvs take it: they have psycopg2 (SQLAlchemy's default driver), not
    psycopg 3, which the tests' PostgreSQL URL names."""
    return uri.replace("postgresql+psycopg://", "postgresql://", 1)


def fill(version: str, *uris: str, cwd: Path) -> Any:
    """Write the test data into each URI with MLflow ``version``; returns what that release reads back
    from the first."""
    uris = tuple(for_mlflow(u) for u in uris)
    return run_script(release_python(version), FILL, "mlflow", *uris, cwd=cwd, name=f"fill_{version}.py")
