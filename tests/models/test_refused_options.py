"""Options MLflow has that fluvial does not implement are refused, never dropped; unknown keywords
are a TypeError as in MLflow (issue 15; the signature list is docs/api-differences.md)."""

from __future__ import annotations

import pytest

import fluvial as mlflow
from fluvial.exceptions import MlflowException
from fluvial.models import Model


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_pyfunc_save_model_unknown_keyword_is_type_error(tmp_path):
    with pytest.raises(TypeError, match="input_exmple"):
        mlflow.pyfunc.save_model(str(tmp_path / "m"), python_model=Echo(), input_exmple=[1])
    assert not (tmp_path / "m").exists()


def test_pyfunc_save_model_takes_mlflows_model_alias(tmp_path):
    meta = Model(metadata={"owner": "me"})
    mlflow.pyfunc.save_model(str(tmp_path / "m"), python_model=Echo(), model=meta)
    assert Model.load(str(tmp_path / "m")).metadata == {"owner": "me"}


@pytest.mark.parametrize("option", [{"resources": []}, {"auth_policy": object()}])
def test_unimplemented_options_raise(tmp_path, option):
    with pytest.raises(MlflowException, match="not supported") as info:
        mlflow.pyfunc.save_model(str(tmp_path / "m"), python_model=Echo(), **option)
    assert info.value.error_code == "NOT_IMPLEMENTED"
    assert not (tmp_path / "m").exists()


def test_pyfunc_log_model_refuses_unknown_and_unimplemented(tracking_uri):
    with mlflow.start_run():
        with pytest.raises(TypeError):
            mlflow.pyfunc.log_model("m", python_model=Echo(), input_exmple=[1])  # type: ignore[call-arg]
        with pytest.raises(MlflowException, match="prompts"):
            mlflow.pyfunc.log_model("m", python_model=Echo(), prompts=["p"])
        info = mlflow.pyfunc.log_model("m", python_model=Echo(), code_path=None)
    assert mlflow.pyfunc.load_model(info.model_uri).predict([1, 2]) == [1, 2]


def test_example_no_conversion_is_deprecated_and_has_no_effect(tmp_path):
    with pytest.warns(FutureWarning, match="example_no_conversion"):
        mlflow.pyfunc.save_model(str(tmp_path / "m"), python_model=Echo(), example_no_conversion=True)
    assert mlflow.pyfunc.load_model(str(tmp_path / "m")).predict([3]) == [3]


def test_log_input_has_no_model_parameter(tracking_uri):
    with mlflow.start_run(), pytest.raises(TypeError):
        mlflow.log_input(object(), model="m")  # type: ignore[call-arg]


def test_models_infer_pip_requirements_takes_a_model_uri_and_flavor(tracking_uri):
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model("m", python_model=Echo())
    requirements = mlflow.models.infer_pip_requirements(info.model_uri, "python_function", fallback=["x==1"])
    # Echo lives in this test module, which imports pytest: loading the model imports it
    assert "pytest" in [r.split("==")[0] for r in requirements] and requirements != ["x==1"]
