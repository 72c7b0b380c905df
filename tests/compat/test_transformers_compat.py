"""transformers pipelines cross between MLflow 2.22.5 (transformers 4 in its virtualenv) and fluvial,
both ways: the pipeline each side loads predicts what the saver's pipeline predicted, pyfunc predictions
have MLflow's shapes, and the MLmodel flavor entries are MLflow's. The models are tiny and built from a
config in the scripts (tests/flavors/_hf_tiny.py), so nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compat._mlflow import REPO, require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(1200)]

PRELUDE = f'''
import os, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {str(REPO / "tests" / "flavors")!r})
import _hf_tiny as tiny
import {{module}} as mlflow
root = sys.argv[1]
tasks = sys.argv[2].split(",")
out = {{{{}}}}
'''

SAVE = '''
for task in tasks:
    pipe = tiny.tiny_pipeline(task)
    x = tiny.example(task)
    mlflow.transformers.save_model(pipe, os.path.join(root, task), pip_requirements=["transformers", "torch"],
                                   model_config=tiny.model_config(task))
    out[task] = {"raw": tiny.plain(tiny.call(pipe, task, x)),
                 "pyfunc": tiny.plain(mlflow.pyfunc.load_model(os.path.join(root, task)).predict([x, x]))}
'''

LOAD = '''
for task in tasks:
    x = tiny.example(task)
    pipe = mlflow.transformers.load_model(os.path.join(root, task))
    parts = mlflow.transformers.load_model(os.path.join(root, task), return_type="components")
    out[task] = {"raw": tiny.plain(tiny.call(pipe, task, x)), "type": type(pipe).__name__, "parts": sorted(k for k in parts if k in ("model", "tokenizer", "task")),
                 "pyfunc": tiny.plain(mlflow.pyfunc.load_model(os.path.join(root, task)).predict([x, x]))}
'''


def _run(module: str, source: str, root: Path, tasks: list[str], python: str | None = None) -> dict:
    script = PRELUDE.format(module=module) + source + "\nemit(out)\n"
    args = (str(root), ",".join(tasks))
    if module == "mlflow" or python is not None:
        return run_script(python or require_mlflow(), script, *args, cwd=root, name=f"{module}_side.py", timeout=900)
    return run_fluvial(script, *args, cwd=root, name="fluvial_side.py", timeout=900)


def _close(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            _close(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=False):
            _close(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    else:
        assert a == b


@pytest.fixture(scope="module")
def mlflow_saved(tmp_path_factory):
    require_mlflow()
    root = tmp_path_factory.mktemp("mlflow_saved")
    return root, _run("mlflow", SAVE, root, tiny_tasks())


@pytest.fixture(scope="module")
def fluvial_saved(tmp_path_factory):
    require_mlflow()
    root = tmp_path_factory.mktemp("fluvial_saved")
    return root, _run("fluvial", SAVE, root, tiny_tasks())


def tiny_tasks() -> list[str]:
    import sys

    sys.path.insert(0, str(REPO / "tests" / "flavors"))
    import _hf_tiny

    return _hf_tiny.TEXT_TASKS


def test_fluvial_loads_mlflows_pipelines(mlflow_saved):
    root, saved = mlflow_saved
    loaded = _run("fluvial", LOAD, root, tiny_tasks())
    for task in tiny_tasks():
        _close(loaded[task]["raw"], saved[task]["raw"])
        _close(loaded[task]["pyfunc"], saved[task]["pyfunc"])
        assert loaded[task]["parts"] == ["model", "task", "tokenizer"]


def test_mlflow_loads_fluvials_pipelines(fluvial_saved):
    root, saved = fluvial_saved
    loaded = _run("mlflow", LOAD, root, tiny_tasks())
    for task in tiny_tasks():
        _close(loaded[task]["raw"], saved[task]["raw"])
        _close(loaded[task]["pyfunc"], saved[task]["pyfunc"])


def test_flavor_entries_and_signatures_match_mlflows(mlflow_saved, fluvial_saved):
    for task in tiny_tasks():
        ours = yaml.safe_load((fluvial_saved[0] / task / "MLmodel").read_text())
        theirs = yaml.safe_load((mlflow_saved[0] / task / "MLmodel").read_text())
        for meta in (ours, theirs):
            meta["flavors"]["transformers"].pop("transformers_version")
            meta["flavors"]["python_function"].pop("python_version")
        assert ours["flavors"] == theirs["flavors"], task
        assert ours["signature"] == theirs["signature"], task
        assert sorted(p.name for p in (fluvial_saved[0] / task).iterdir() if p.is_file()) == \
            sorted(p.name for p in (mlflow_saved[0] / task).iterdir() if p.is_file())


def test_seq2seq_pipelines_cross_under_transformers_4(tmp_path):
    """transformers 5 has no summarization/text2text pipelines: fluvial runs in MLflow's virtualenv
    (transformers 4) for these, both ways."""
    python = str(require_mlflow())
    import sys

    sys.path.insert(0, str(REPO / "tests" / "flavors"))
    import _hf_tiny

    tasks = _hf_tiny.SEQ2SEQ_TASKS
    for saver, loader in (("mlflow", "fluvial"), ("fluvial", "mlflow")):
        root = tmp_path / saver
        root.mkdir()
        saved = _run(saver, SAVE, root, tasks, python=python)
        loaded = _run(loader, LOAD, root, tasks, python=python)
        for task in tasks:
            _close(loaded[task]["raw"], saved[task]["raw"])
            _close(loaded[task]["pyfunc"], saved[task]["pyfunc"])
            assert isinstance(loaded[task]["pyfunc"], list)
