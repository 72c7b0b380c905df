"""The Prophet flavor (``fluvial.prophet``) through the public API: save/log/load, pyfunc, the signature
inferred from an example, MLflow's requirements (pinned prophet, nothing inferred), refused input."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml

import fluvial as mlflow
from fluvial.exceptions import InvalidParameterValue

# prophet 1.5 still calls pandas APIs that pandas 3.1 deprecates (drop(inplace=True), read_json(convert_dates=))
pytestmark = [pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning"),
              pytest.mark.filterwarnings("ignore:The 'convert_dates' keyword:pandas.errors.Pandas4Warning")]

HISTORY = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60, freq="D"),
                        "y": np.sin(np.arange(60) / 5.0) + np.arange(60) * 0.1})


@pytest.fixture(scope="module")
def fitted():
    import logging

    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    model = Prophet(daily_seasonality=False, yearly_seasonality=False, weekly_seasonality=True)
    return model.fit(HISTORY)


@pytest.fixture(scope="module")
def future(fitted):
    return fitted.make_future_dataframe(periods=7)


def test_save_load_pyfunc_and_mlmodel(fitted, future, tmp_path):
    path = tmp_path / "model"
    mlflow.prophet.save_model(fitted, str(path), input_example=future.head(3))
    expected = fitted.predict(future)

    meta = yaml.safe_load((path / "MLmodel").read_text())
    assert meta["flavors"]["prophet"] == {"prophet_version": __import__("prophet").__version__, "code": None,
                                          "model_type": "Prophet", "data": "model.pr"}
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.prophet"
    assert (path / "requirements.txt").read_text().split() == [f"prophet=={__import__('prophet').__version__}"]
    signature = mlflow.models.Model.load(str(path)).signature
    assert signature.inputs.to_dict() == [{"type": "datetime", "name": "ds", "required": True}]
    assert {"yhat", "yhat_lower", "yhat_upper", "trend"} <= set(signature.outputs.input_names())

    loaded = mlflow.prophet.load_model(str(path))
    assert type(loaded).__name__ == "Prophet"
    np.testing.assert_allclose(loaded.predict(future)["yhat"], expected["yhat"])
    pyfunc = mlflow.pyfunc.load_model(str(path))
    np.testing.assert_allclose(pyfunc.predict(future)["yhat"], expected["yhat"])
    assert type(pyfunc.get_raw_model()).__name__ == "Prophet"


def test_log_model_registers(fitted, future, tracking_uri, tmp_path):
    with mlflow.start_run() as run:
        info = mlflow.prophet.log_model(fitted, "forecaster", registered_model_name="prophet-reg")
    assert info.model_uri == f"runs:/{run.info.run_id}/forecaster"
    assert info.registered_model_version == 1
    loaded = mlflow.prophet.load_model("models:/prophet-reg/1")
    np.testing.assert_allclose(loaded.predict(future)["yhat"], fitted.predict(future)["yhat"])


def test_refused_input_leaves_nothing_behind(tmp_path):
    from prophet import Prophet

    with pytest.raises(InvalidParameterValue, match=r"prophet\.Prophet"):
        mlflow.prophet.save_model(object(), str(tmp_path / "a"))
    with pytest.raises(ValueError, match="fit"):
        mlflow.prophet.save_model(Prophet(), str(tmp_path / "b"))
    with pytest.raises(TypeError, match="input_exmple"):
        mlflow.prophet.log_model(Prophet(), "m", input_exmple=HISTORY)
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")
    assert mlflow.active_run() is None
