"""sentence-transformers models cross between MLflow 2.22.5 (sentence-transformers 4 in its virtualenv)
and fluvial, both ways: the loaded model and its pyfunc encode as the saver's model did, and the MLmodel
flavor entries are MLflow's. The model is a tiny BERT built in the scripts (tests/flavors/_hf_tiny.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.compat._mlflow import REPO, require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(900)]

SCRIPT = f'''
import os, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {str(REPO / "tests" / "flavors")!r})
import _hf_tiny as tiny
import {{module}} as mlflow
path = os.path.join(sys.argv[1], "model")
sentences = ["the cat sat on the mat", "a good movie"]
if sys.argv[2] == "save":
    model = tiny.tiny_sentence_transformer()
    mlflow.sentence_transformers.save_model(model, path, pip_requirements=["sentence-transformers"])
    out = {{{{"encode": model.encode(sentences).tolist()}}}}
else:
    out = {{{{"encode": mlflow.sentence_transformers.load_model(path).encode(sentences).tolist()}}}}
out["pyfunc"] = mlflow.pyfunc.load_model(path).predict(sentences).tolist()
emit(out)
'''


def _run(module: str, root: Path, action: str) -> dict:
    script = SCRIPT.format(module=module)
    # sentence-transformers 5+ records module paths (sentence_transformers.base...) that the 4.x MLflow
    # 2.22.5 supports cannot import: fluvial saves for MLflow with MLflow's sentence-transformers
    if module == "mlflow" or action == "save":
        return run_script(require_mlflow(), script, str(root), action, cwd=root, name=f"{module}_side.py",
                          timeout=600)
    return run_fluvial(script, str(root), action, cwd=root, name="fluvial_side.py", timeout=600)


@pytest.mark.parametrize(("saver", "loader"), [("mlflow", "fluvial"), ("fluvial", "mlflow")])
def test_sentence_transformers_cross(saver, loader, tmp_path):
    require_mlflow()
    saved = _run(saver, tmp_path, "save")
    loaded = _run(loader, tmp_path, "load")
    for key in ("encode", "pyfunc"):
        np.testing.assert_allclose(loaded[key], saved["encode"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(saved["pyfunc"], saved["encode"], rtol=1e-5)
    meta = yaml.safe_load((tmp_path / "model" / "MLmodel").read_text())
    entry = meta["flavors"]["sentence_transformers"]
    assert entry["pipeline_model_type"] == "BertModel"
    assert set(entry) == {"code", "pipeline_model_type", "sentence_transformers_version", "source_model_name"}
    assert meta["flavors"]["python_function"]["data"] == "model.sentence_transformer"
    assert "tensor" in meta["signature"]["outputs"]
