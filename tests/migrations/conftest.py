"""Fixtures for tests/migrations: the SQLite databases older MLflow releases write, written once per
session and copied by each test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))  # _mlflow: driving MLflow venvs
from _releases import fill


@pytest.fixture(scope="session")
def _release_databases(tmp_path_factory) -> dict[str, tuple[Path, Any]]:
    return {}


@pytest.fixture
def release_sqlite(_release_databases, tmp_path_factory, tmp_path):
    """``copy(version)``: a fresh copy of the SQLite database MLflow ``version`` wrote (written once a
    session) and what that release read from it."""

    def copy(version: str) -> tuple[str, Any]:
        if version not in _release_databases:
            where = tmp_path_factory.mktemp(f"mlflow-{version}")
            read = fill(version, f"sqlite:///{where / 'mlflow.db'}", cwd=where)
            _release_databases[version] = (where / "mlflow.db", read)
        source, read = _release_databases[version]
        target = tmp_path / f"{version}-{len(list(tmp_path.glob('*.db')))}.db"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}", read

    return copy
