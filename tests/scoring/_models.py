"""Models the scoring tests serve. The custom classes live in this importable module so that the
pickled models load in the server subprocesses (they run with the repository on PYTHONPATH)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import fluvial as mlflow
from fluvial.models import infer_signature
from fluvial.pyfunc import PythonModel

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_frame() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = FEATURES
    return X, y


def save_sklearn(path: Path, *, proba: bool = False) -> tuple[Path, pd.DataFrame]:
    """A LogisticRegression on iris with a signature of four double columns; its sample input."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris_frame()
    model = LogisticRegression(max_iter=500).fit(X, y)
    fn = "predict_proba" if proba else "predict"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(X, getattr(model, fn)(X)),
                              pyfunc_predict_fn=fn, pip_requirements=["scikit-learn", "cloudpickle"])
    return path, X.iloc[::10].reset_index(drop=True)


class EchoModel(PythonModel):
    """Returns a DataFrame: the input's column sums per row plus the params it got."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        out = pd.DataFrame({"total": frame.select_dtypes("number").sum(axis=1).astype(float)})
        out["scale"] = float((params or {}).get("scale", 1.0))
        out["label"] = str((params or {}).get("label", "none"))
        return out


class FailingModel(PythonModel):
    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise RuntimeError("the model broke on purpose")


class SlowModel(PythonModel):
    """Sleeps ``params['seconds']`` (default 3) before answering."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        time.sleep(float((params or {}).get("seconds", 3)))
        return [0] * len(model_input)


class PidModel(PythonModel):
    """Answers each row with the worker's pid, after a short sleep (so concurrent requests overlap)."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        time.sleep(0.2)
        return [os.getpid()] * len(model_input)


class BatchSizeModel(PythonModel):
    """Answers each row with the number of rows predicted together, after a short sleep."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        time.sleep(0.3)
        return [len(model_input)] * len(model_input)


def save_custom(path: Path, python_model: PythonModel, *, params: dict[str, Any] | None = None,
                columns: tuple[str, ...] = ("a", "b")) -> Path:
    example = pd.DataFrame({c: [1.0, 2.0] for c in columns})
    output = python_model.predict(None, example, params) if isinstance(python_model, EchoModel) else None
    signature = infer_signature(example, output, params=params)
    mlflow.pyfunc.save_model(str(path), python_model=python_model, signature=signature,
                             pip_requirements=["pandas"])
    return path


def as_array(values: Any) -> np.ndarray:
    return np.asarray(values)


class EnvModel(PythonModel):
    """Answers each row with the value of FLUVIAL_TEST_VALUE in the predicting process."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return [os.environ.get("FLUVIAL_TEST_VALUE", "")] * len(model_input)


class ConfigModel(PythonModel):
    """Answers each row with its model_config as ``scale/label`` (the config it was loaded with)."""

    def load_context(self, context: Any) -> None:
        self.config = dict(context.model_config)

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return [f"{self.config['scale']}/{self.config['label']}"] * len(model_input)
