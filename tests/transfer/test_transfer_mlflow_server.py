"""fluvial export / import against an unmodified MLflow 2.22.5 server: export from it into fluvial's
SQLite store, and import a fluvial export into it; content compared field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvial.tracking.client import MlflowClient
from tests.transfer._content import cli, populate, snapshot

pytestmark = [pytest.mark.compat, pytest.mark.slow]


def test_export_from_mlflow_server_and_import_into_it(tmp_path: Path) -> None:
    from tests.compat._mlflow import MLFLOW_VERSION, mlflow_python
    from tests.compat._servers import mlflow_server

    python = mlflow_python(MLFLOW_VERSION)
    if python is None:
        pytest.skip(f".venvs/mlflow-{MLFLOW_VERSION}/bin/python is missing (create it with `make mlflow-venvs`)")
    fluvial_uri = f"sqlite:///{tmp_path / 'fluvial.db'}"
    (tmp_path / "mlflow").mkdir()
    with mlflow_server(python, tmp_path / "mlflow") as server:
        mlflow_side = MlflowClient(server.url)
        populate(mlflow_side)
        expected = snapshot(mlflow_side)
        cli("export", str(tmp_path / "from-mlflow"), "--tracking-uri", server.url)
        cli("import", str(tmp_path / "from-mlflow"), "--tracking-uri", fluvial_uri)
        assert snapshot(MlflowClient(fluvial_uri)) == expected

        # the reverse: what fluvial exported goes into MLflow's server, under a prefix (the registered model is
        # not prefixed: remove the original so the imported versions are numbered 1 and 2 again)
        mlflow_side.delete_registered_model("river-model")
        cli("export", str(tmp_path / "from-fluvial"), "--tracking-uri", fluvial_uri)
        cli("import", str(tmp_path / "from-fluvial"), "--tracking-uri", server.url,
            "--experiment-name-prefix", "back/")
        assert snapshot(mlflow_side, prefix="back/") == expected
