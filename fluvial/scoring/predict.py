"""``fluvial models predict``: the scoring server's protocol on a file (or stdin) instead of a socket.

The input is what ``/invocations`` takes (a JSON payload with one of ``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs`` and optional ``params``; or CSV), the output what it
answers (``{"predictions": ...}``, without a trailing newline).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException

CONTENT_TYPES = {"json": "json", "application/json": "json", "csv": "csv", "text/csv": "csv"}


def normalize_content_type(value: str) -> str:
    key = (value or "").strip().lower()
    if key not in CONTENT_TYPES:
        raise InvalidParameterValue(f"Unknown content type {value!r}: use json or csv.")
    return CONTENT_TYPES[key]


def read_input(input_path: str | None) -> bytes:
    """The payload from ``input_path``, or from stdin when it is None or ``-``."""
    if input_path in (None, "-"):
        return sys.stdin.buffer.read()
    with open(input_path, "rb") as fh:  # type: ignore[arg-type]
        return fh.read()


def write_output(data: bytes, output_path: str | None) -> None:
    if output_path in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    with open(output_path, "wb") as fh:  # type: ignore[arg-type]
        fh.write(data)


def predict_payload(model: Any, body: bytes, content_type: str) -> bytes:
    """The JSON answer of ``model`` to one payload, as the scoring server gives it."""
    from fluvial.models.serving_input import is_unified_llm_input, parse_csv_input, parse_serving_input
    from fluvial.scoring.output import encode_predictions

    meta = model.metadata
    schema = meta.get_input_schema()
    wrap = True
    if normalize_content_type(content_type) == "csv":
        data, params = parse_csv_input(body, schema), None
    else:
        import orjson

        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameterValue(f"Invalid input. Ensure that input is a valid JSON formatted string. Error: {exc}") from None
        wrap = not is_unified_llm_input(payload)
        data, params = parse_serving_input(
            payload, schema, params_schema=meta.get_params_schema(),
            signature_from_type_hint=bool(getattr(meta.signature, "_is_signature_from_type_hint", False)))
    try:
        output = model.predict(data, params=params) if params else model.predict(data)
    except MlflowException:
        raise
    except Exception as exc:
        raise MlflowException(f"The model failed while predicting: {type(exc).__name__}: {exc}") from exc
    return encode_predictions(output, wrap=wrap)


def predict_local(model_dir: str, input_path: str | None, output_path: str | None, content_type: str = "json",
                  extra_env: Mapping[str, str] | None = None) -> None:
    """Load the model in ``model_dir`` in this process and write its predictions for the input."""
    from fluvial.scoring.serve import load_for_serving

    content_type = normalize_content_type(content_type)
    os.environ.update(extra_env or {})
    body = read_input(input_path)
    model = load_for_serving(model_dir)
    write_output(predict_payload(model, body, content_type), output_path)


def parse_env_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--env KEY=VALUE`` options as a dict."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterValue(f"--env takes KEY=VALUE; got {pair!r}.")
        out[key.strip()] = value
    return out


__all__ = ["normalize_content_type", "parse_env_pairs", "predict_local", "predict_payload", "read_input",
           "write_output"]
