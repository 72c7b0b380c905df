"""Custom pyfunc models: PythonModel with context, artifacts, code_paths, params, callables."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

import fluvial as mlflow
from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models import infer_signature


class AddN(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["n"]) as fh:
            self.n = int(fh.read())
        self.scale = context.model_config.get("scale", 1)

    def predict(self, context, model_input, params=None):
        extra = (params or {}).get("extra", 0)
        return (model_input["x"] + self.n + extra) * self.scale


def test_python_model_with_artifacts_config_and_params(tmp_path, tracking_uri):
    (tmp_path / "n.txt").write_text("10")
    df = pd.DataFrame({"x": [1.0, 2.0]})
    sig = infer_signature(df, params={"extra": 0})
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model("m", python_model=AddN(), artifacts={"n": str(tmp_path / "n.txt")},
                                       signature=sig, model_config={"scale": 2})
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict(df)) == [22.0, 24.0]
    assert list(loaded.predict(df, params={"extra": 1})) == [24.0, 26.0]
    assert isinstance(loaded.unwrap_python_model(), AddN)
    assert loaded.model_config == {"scale": 2}
    assert list(mlflow.pyfunc.load_model(info.model_uri, model_config={"scale": 3}).predict(df)) == [33.0, 36.0]
    meta = loaded.metadata.to_dict()
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.pyfunc.model"
    assert meta["flavors"]["python_function"]["artifacts"]["n"]["path"] == "artifacts/n.txt"
    assert run.info.run_id == meta["run_id"]


class Configured(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.config = dict(context.model_config)

    def predict(self, context, model_input, params=None):
        return model_input["x"] * self.config.get("scale", 1) + self.config.get("shift", 0)


def test_model_config_at_load_overrides_only_saved_keys_as_mlflow(tmp_path, monkeypatch, caplog):
    """MLflow's rule: the saved config, then MLFLOW_PYFUNC_INFERENCE_CONFIG, then model_config given at load,
    each only for keys the saved config has; the rest are dropped with a warning naming them."""
    df = pd.DataFrame({"x": [1.0, 2.0]})
    mlflow.pyfunc.save_model(tmp_path / "m", python_model=Configured(), model_config={"scale": 2, "shift": 0})
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "m"), model_config={"shift": 1, "unknown": 5})
    assert loaded.model_config == {"scale": 2, "shift": 1}
    assert list(loaded.predict(df)) == [3.0, 5.0]
    assert "unknown" in caplog.text and "ignored" in caplog.text
    (tmp_path / "over.yml").write_text("scale: 10\n")
    assert list(mlflow.pyfunc.load_model(str(tmp_path / "m"), model_config=str(tmp_path / "over.yml")).predict(df)) == [10.0, 20.0]

    monkeypatch.setenv("MLFLOW_PYFUNC_INFERENCE_CONFIG", '{"scale": 3, "shift": 2}')
    assert list(mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(df)) == [5.0, 8.0]
    # a key given at load beats the environment's
    assert list(mlflow.pyfunc.load_model(str(tmp_path / "m"), model_config={"scale": 4}).predict(df)) == [6.0, 10.0]
    for bad in ("{not json", "[1, 2]"):
        monkeypatch.setenv("MLFLOW_PYFUNC_INFERENCE_CONFIG", bad)
        with pytest.raises(InvalidParameterValue, match="MLFLOW_PYFUNC_INFERENCE_CONFIG"):
            mlflow.pyfunc.load_model(str(tmp_path / "m"))


def test_model_config_for_a_model_saved_without_one_warns_and_is_dropped(tmp_path, caplog):
    from sklearn.linear_model import LinearRegression

    df = pd.DataFrame({"x": [1.0, 2.0]})
    mlflow.pyfunc.save_model(tmp_path / "plain", python_model=Configured())
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "plain"), model_config={"scale": 3})
    assert loaded.model_config == {} and list(loaded.predict(df)) == [1.0, 2.0]
    assert "scale" in caplog.text and "takes no configuration" in caplog.text
    caplog.clear()
    mlflow.sklearn.save_model(LinearRegression().fit(df, [2.0, 4.0]), tmp_path / "sk")
    assert list(mlflow.pyfunc.load_model(str(tmp_path / "sk"), model_config={"n_jobs": 2}).predict(df)) == pytest.approx([2.0, 4.0])
    assert "n_jobs" in caplog.text and "takes no configuration" in caplog.text


def test_code_paths_travel_with_the_model(tmp_path, monkeypatch):
    code = tmp_path / "src"
    code.mkdir()
    (code / "helper_mod.py").write_text("def double(x):\n    return x * 2\n")
    (tmp_path / "model_def.py").write_text(textwrap.dedent('''
        import fluvial as mlflow
        class Doubler(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                import helper_mod
                return helper_mod.double(model_input)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import model_def

    mlflow.pyfunc.save_model(tmp_path / "m", python_model=model_def.Doubler(), code_paths=[str(code / "helper_mod.py")])
    assert (tmp_path / "m" / "code" / "helper_mod.py").is_file()
    assert mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(pd.DataFrame({"a": [1]}))["a"].tolist() == [2]


def test_callable_and_no_context_predict(tmp_path):
    mlflow.pyfunc.save_model(tmp_path / "f", python_model=lambda df: df * 3)
    assert mlflow.pyfunc.load_model(str(tmp_path / "f")).predict(pd.DataFrame({"a": [1]}))["a"].tolist() == [3]

    class NoContext(mlflow.pyfunc.PythonModel):
        def predict(self, model_input, params=None):
            return len(model_input)

    mlflow.pyfunc.save_model(tmp_path / "n", python_model=NoContext())
    assert mlflow.pyfunc.load_model(str(tmp_path / "n")).predict(pd.DataFrame({"a": [1, 2]})) == 2


def test_save_model_argument_errors(tmp_path):
    with pytest.raises(InvalidParameterValue):
        mlflow.pyfunc.save_model(tmp_path / "a")
    with pytest.raises(InvalidParameterValue):
        mlflow.pyfunc.save_model(tmp_path / "b", python_model=object())
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(str(tmp_path / "nothing-here"))


def test_unwrap_on_non_custom_model_fails(tmp_path):
    from sklearn.linear_model import LinearRegression

    mlflow.sklearn.save_model(LinearRegression().fit([[1], [2]], [1, 2]), tmp_path / "lr")
    with pytest.raises(MlflowException, match="Unable to retrieve base model"):
        mlflow.pyfunc.load_model(str(tmp_path / "lr")).unwrap_python_model()


def test_corrupt_python_model_pickle(tmp_path):
    mlflow.pyfunc.save_model(tmp_path / "m", python_model=lambda df: df)
    (tmp_path / "m" / "python_model.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(MlflowException, match="Could not unpickle"):
        mlflow.pyfunc.load_model(str(tmp_path / "m"))
