"""Predictions to the JSON MLflow's scoring server answers with: ``{"predictions": ...}``."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def jsonable(predictions: Any) -> Any:
    """DataFrame -> records, Series -> records of a one-column frame, ndarray -> nested lists."""
    module = type(predictions).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(predictions, pd.Series):
            predictions = predictions.to_frame(name=predictions.name if predictions.name is not None else 0)
        if isinstance(predictions, pd.DataFrame):
            return predictions.to_dict(orient="records")
    return predictions


def encode_predictions(predictions: Any, wrap: bool = True) -> bytes:
    body = jsonable(predictions)
    if wrap:
        body = {"predictions": body}
    try:
        return orjson.dumps(body, default=_default, option=_OPTIONS)
    except TypeError:  # NaN in Python floats, mixed-type numpy object arrays, ...: the slower encoder
        import json

        return json.dumps(body, default=_default).encode()
