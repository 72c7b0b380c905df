"""`make run`'s job: examples/quickstart.py on the embedded default, in a fresh directory."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import fluvial as mlflow

QUICKSTART = pathlib.Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_quickstart_tracks_and_loads_a_model(tmp_path):
    out = subprocess.run([sys.executable, str(QUICKSTART)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, check=True)
    assert "best model loaded back through pyfunc" in out.stdout
    assert (tmp_path / "mlflow.db").is_file()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["quickstart"], order_by=["metrics.acc DESC"])
    assert len(runs) == 3 and set(runs["status"]) == {"FINISHED"}
    model = mlflow.sklearn.load_model(f"runs:/{runs.iloc[0]['run_id']}/model")
    assert hasattr(model, "predict_proba")
