"""Prophet models cross between MLflow 2.22.5 (its own virtualenv, with prophet) and fluvial both ways:
the other side's ``load_model`` and pyfunc forecast the same, and the MLmodel flavor entries, signature
and requirements are MLflow's."""

from __future__ import annotations

import pytest
import yaml

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(1200)]

SCRIPT = '''
import logging, sys, warnings
warnings.filterwarnings("ignore")
logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
out = {{}}
try:
    import prophet
except ImportError as exc:
    out["skipped"] = f"prophet is not installed for {module}: {{exc}}"
if "skipped" not in out:
    import numpy as np, pandas as pd
    import {module} as mlflow
    history = pd.DataFrame({{"ds": pd.date_range("2024-01-01", periods=60, freq="D"),
                            "y": np.sin(np.arange(60) / 5.0) + np.arange(60) * 0.1}})
    model = prophet.Prophet(daily_seasonality=False, yearly_seasonality=False, weekly_seasonality=True).fit(history)
    future = model.make_future_dataframe(periods=7)
    if sys.argv[3] == "save":
        mlflow.prophet.save_model(model, sys.argv[1] + "/by-{module}", input_example=future.head(3))
        out["saved"] = model.predict(future)["yhat"].tolist()
    other = sys.argv[1] + "/by-" + sys.argv[2]
    if sys.argv[2] != "none":
        out["loaded"] = mlflow.prophet.load_model(other).predict(future)["yhat"].tolist()
        out["pyfunc"] = mlflow.pyfunc.load_model(other).predict(future)["yhat"].tolist()
emit(out)
'''


def _run(module: str, other: str, tmp_path, save: bool = True) -> dict:
    script = SCRIPT.format(module=module)
    if module == "mlflow":
        result = run_script(require_mlflow(), script, str(tmp_path), other, "save" if save else "-", cwd=tmp_path,
                            name="mlflow_prophet.py",
                            timeout=600)
    else:
        result = run_fluvial(script, str(tmp_path), other, "save" if save else "-", cwd=tmp_path, name="fluvial_prophet.py", timeout=600)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    return result


def test_prophet_models_cross_both_ways(tmp_path):
    require_mlflow()
    fluvial_first = _run("fluvial", "none", tmp_path)
    mlflow_side = _run("mlflow", "fluvial", tmp_path)
    fluvial_side = _run("fluvial", "mlflow", tmp_path, save=False)

    assert mlflow_side["loaded"] == pytest.approx(fluvial_first["saved"], rel=1e-9)
    assert mlflow_side["pyfunc"] == pytest.approx(fluvial_first["saved"], rel=1e-9)
    assert fluvial_side["loaded"] == pytest.approx(mlflow_side["saved"], rel=1e-9)
    assert fluvial_side["pyfunc"] == pytest.approx(mlflow_side["saved"], rel=1e-9)

    by_fluvial, by_mlflow = tmp_path / "by-fluvial", tmp_path / "by-mlflow"
    metas = [yaml.safe_load((d / "MLmodel").read_text()) for d in (by_fluvial, by_mlflow)]
    assert metas[0]["flavors"]["prophet"] == metas[1]["flavors"]["prophet"]
    for key in ("loader_module", "data", "env", "code"):
        assert metas[0]["flavors"]["python_function"].get(key) == metas[1]["flavors"]["python_function"].get(key), key
    assert metas[0]["signature"] == metas[1]["signature"]
    # MLflow lists itself (mlflow==2.22.5) first; fluvial never pins fluvial or mlflow (the environment
    # managers install them), so the rest must match
    requirements = [[r for r in (d / "requirements.txt").read_text().split() if not r.startswith("mlflow")]
                    for d in (by_fluvial, by_mlflow)]
    assert requirements[0] == requirements[1] == [r for r in requirements[1] if r.startswith("prophet==")]
    assert sorted(p.name for p in by_fluvial.iterdir()) == sorted(p.name for p in by_mlflow.iterdir())
