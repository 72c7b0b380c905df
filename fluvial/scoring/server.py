"""The scoring server as a small ASGI app: ``/ping``, ``/health``, ``/version``, ``/invocations``.

Request handling follows MLflow's protocol (reference: models §6.2-§6.3): JSON payloads with exactly one
of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (+ ``params``), or ``text/csv``;
answers ``{"predictions": ...}``; errors as ``{"error_code", "message"}``. Bad input is always a 4xx (a
ValueError, TypeError or LookupError from the model's predict counts as bad input, as in MLflow); a 5xx
means the model itself failed with another exception (500) or took longer than the request timeout (504).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from fluvial.exceptions import MlflowException
from fluvial.models.serving_input import (
    SUPPORTED_FORMATS,
    dataframe_from_parsed_json,
    is_unified_llm_input,
    parse_csv_input,
    parse_serving_input,
)
from fluvial.scoring.batching import BatchConfig, Batcher, batch_key
from fluvial.scoring.output import encode_predictions
from fluvial.version import MLFLOW_COMPAT_VERSION

_logger = logging.getLogger("fluvial.scoring")
JSON = [(b"content-type", b"application/json")]
MAX_BODY_BYTES = 100 * 1024 * 1024
UNEXPECTED_ERROR = (
    "Encountered an unexpected error while evaluating the model. Verify that the serialized input Dataframe "
    "is compatible with the model for inference."
)


# Exceptions from predict that mean "this input does not suit the model" (NaN, wrong shape or type,
# missing key): 400 like MLflow. Anything else the model raises is its own failure: 500.
_INPUT_ERRORS = (ValueError, TypeError, LookupError)


class _HttpError(Exception):
    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = JSON) -> None:
        self.status, self.body, self.headers = status, body, headers


def _error(status: int, code: str, message: str, stack: str | None = None) -> _HttpError:
    body: dict[str, Any] = {"error_code": code, "message": message}
    if stack:
        body["stack_trace"] = stack
    return _HttpError(status, orjson.dumps(body))


def _unsupported(message: str) -> _HttpError:
    return _error(415, "BAD_REQUEST", message)


def _content_type(raw: str | None) -> str:
    """The mime type; 415 (MLflow's messages, as JSON errors) for other types and for parameters other
    than a utf-8 charset."""
    if raw is None:
        raise _unsupported("Missing Content-Type header. Use application/json or text/csv.")
    mime, *params = [part.strip() for part in raw.split(";")]
    unknown = []
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
                raise _unsupported("The scoring server only supports UTF-8")
        elif key.strip():
            unknown.append(key.strip())
    if unknown:
        raise _unsupported(f"Unrecognized content type parameters: {', '.join(unknown)}. IMPORTANT: The MLflow "
                           "Model scoring protocol has changed in MLflow version 2.0.")
    mime = mime.lower()
    if mime not in ("application/json", "text/csv"):
        raise _unsupported(f"This predictor only supports the following content types: Types: ['text/csv', "
                           f"'application/json']. Got '{raw}'.")
    return mime


class ScoringApp:
    """Serves one loaded ``PyFuncModel``."""

    def __init__(self, model: Any, timeout: float = 60.0, batching: BatchConfig | None = None,
                 threads: int = 2, allowed_hosts: tuple[str, ...] | None = None) -> None:
        self.model = model
        # Host header values accepted (DNS-rebinding guard); None accepts any
        self.allowed_hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
        self.timeout = timeout
        meta = model.metadata
        self.schema = meta.get_input_schema()
        self.params_schema = meta.get_params_schema()
        signature = meta.signature
        self.from_type_hint = bool(getattr(signature, "_is_signature_from_type_hint", False))
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict")
        self.batching = batching
        self._batcher: Batcher | None = None
        self.float_dtype, self.float_columns = _float_columns(self.schema)

    # ---- prediction -----------------------------------------------------------------------
    def _predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        try:
            return self.model.predict(data, params=params) if params else self.model.predict(data)
        except MlflowException as exc:
            raise _error(exc.http_status if exc.http_status < 500 else 400, exc.error_code,
                         f"Failed to predict data '{_short(data)}'. \nError: {exc.message}") from None
        except _INPUT_ERRORS as exc:  # what libraries raise for input they cannot take: the client's (as MLflow)
            raise _error(400, "BAD_REQUEST", f"{UNEXPECTED_ERROR} Error: {type(exc).__name__}: {exc}",
                         traceback.format_exc()) from None
        except Exception as exc:
            _logger.exception("The model failed while predicting")
            raise _error(500, "INTERNAL_ERROR", f"{UNEXPECTED_ERROR} Error: {type(exc).__name__}: {exc}",
                         traceback.format_exc()) from None

    async def _off_loop(self, fn: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.pool, fn), self.timeout)
        except asyncio.TimeoutError:
            raise self._timeout_error() from None

    def _timeout_error(self) -> _HttpError:
        return _error(504, "DEADLINE_EXCEEDED", f"Request processing time exceeded limit ({self.timeout:g} s).")

    def _frame(self, split: dict[str, Any]) -> Any:
        """A DataFrame from a ``dataframe_split`` object: straight from one numpy array when every column
        is a floating-point column of the schema (no per-column casts), else MLflow's general path."""
        if self.float_dtype is not None and set(split) <= {"columns", "data"}:
            columns, data = split.get("columns"), split["data"]
            if (isinstance(columns, list) and isinstance(data, list) and data
                    and all(type(c) is str and c in self.float_columns for c in columns)):
                import numpy as np

                try:
                    array = np.asarray(data, dtype=self.float_dtype)
                except (TypeError, ValueError):  # strings, ragged rows: the general path says what is wrong
                    array = None
                if array is not None and array.ndim == 2 and array.shape[1] == len(columns):
                    import pandas as pd

                    return pd.DataFrame(array, columns=columns)
        return dataframe_from_parsed_json(split, "split", self.schema)

    def _predict_split(self, split: dict[str, Any]) -> Any:
        return self._predict(_parse(lambda: self._frame(split)), None)

    def _answer_json(self, payload: Any) -> bytes:
        """Parse, predict and encode one JSON payload (run off the event loop)."""
        if isinstance(payload, dict) and not self.from_type_hint:
            split = payload.get("dataframe_split")
            if (isinstance(split, dict) and len(payload) == 1) or (
                    isinstance(split, dict) and len(payload) == 2 and "params" in payload and not payload["params"]):
                return encode_predictions(self._predict_split(split))
        wrap = not is_unified_llm_input(payload)
        data, params = _parse(lambda: parse_serving_input(
            payload, self.schema, params_schema=self.params_schema, signature_from_type_hint=self.from_type_hint))
        return encode_predictions(self._predict(data, params), wrap=wrap)

    def _answer_csv(self, body: bytes) -> bytes:
        data = _parse(lambda: parse_csv_input(body, self.schema))
        return encode_predictions(self._predict(data, None))

    @staticmethod
    def _decode(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _error(400, "BAD_REQUEST", f"Invalid input. Ensure that input is a valid JSON formatted string. "
                                             f"Error: {exc}") from None

    async def _invocations(self, content_type: str | None, body: bytes) -> bytes:
        mime = _content_type(content_type)
        if mime == "text/csv":
            return await self._off_loop(lambda: self._answer_csv(body))
        if self.batching is None or self.from_type_hint:
            return await self._off_loop(lambda: self._answer_json(self._decode(body)))
        payload = self._decode(body)
        key = batch_key(payload) if isinstance(payload, dict) else None
        if key is None:
            return await self._off_loop(lambda: self._answer_json(payload))
        if self._batcher is None:
            self._batcher = Batcher(self._predict_split, self.batching, self._off_loop)
        try:
            output = await asyncio.wait_for(self._batcher.submit(*key), self.timeout)
        except asyncio.TimeoutError:
            raise self._timeout_error() from None
        return encode_predictions(output)

    # ---- ASGI -----------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        try:
            if self.allowed_hosts is not None:
                self._check_host(scope["headers"])
            if path in ("/ping", "/health"):
                status, body, headers = self._only(method, "GET", 200, b"\n")
            elif path == "/version":
                status, body, headers = self._only(method, "GET", 200, MLFLOW_COMPAT_VERSION.encode())
            elif path == "/invocations":
                if method != "POST":
                    raise _HttpError(405, orjson.dumps({"detail": "Method Not Allowed"}))
                headers_in = dict(scope["headers"])
                raw_type = headers_in.get(b"content-type")
                body_bytes = await _read_body(receive, headers_in.get(b"content-length"))
                body = await self._invocations(raw_type.decode("latin-1") if raw_type else None, body_bytes)
                status, headers = 200, JSON
            else:
                raise _HttpError(404, orjson.dumps({"detail": "Not Found"}))
        except _HttpError as exc:
            status, body, headers = exc.status, exc.body, exc.headers
        except MlflowException as exc:
            status, body, headers = exc.http_status, orjson.dumps(
                {"error_code": exc.error_code, "message": exc.message}), JSON
        except Exception as exc:  # a bug here, not the client's fault: still a JSON answer
            _logger.exception("Unexpected error in the scoring server")
            status, body, headers = 500, orjson.dumps(
                {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}), JSON
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _check_host(self, headers: list[tuple[bytes, bytes]]) -> None:
        assert self.allowed_hosts is not None
        host = next((v for k, v in headers if k == b"host"), b"").decode("latin-1").strip().lower()
        if host.startswith("["):
            host = host.split("]")[0] + "]"
        elif host.count(":") == 1:
            host = host.rsplit(":", 1)[0]
        if host not in self.allowed_hosts:
            raise _error(403, "PERMISSION_DENIED", "Invalid Host header. Start the server with --allowed-hosts to "
                                                   "accept this host.")

    @staticmethod
    def _only(method: str, allowed: str, status: int, body: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if method not in (allowed, "HEAD"):
            raise _HttpError(405, orjson.dumps({"detail": "Method Not Allowed"}))
        return status, body, JSON


def _float_columns(schema: Any) -> tuple[Any, frozenset[str]]:
    """(numpy dtype, column names) when every input of the schema is a named column of one
    floating-point type (double or float); (None, empty) otherwise."""
    if schema is None or not schema.has_input_names() or schema.is_tensor_spec():
        return None, frozenset()
    types = schema.input_types()
    names = [n for n in schema.input_names() if isinstance(n, str)]
    if not types or len(names) != len(types):
        return None, frozenset()
    kinds = {getattr(t, "name", None) for t in types}
    if len(kinds) != 1 or kinds.pop() not in ("double", "float") or type(types[0]).__name__ != "DataType":
        return None, frozenset()
    return types[0].to_numpy(), frozenset(names)


def _parse(fn: Any) -> Any:
    """Parse a payload; every failure is the client's (400) with the parser's message."""
    try:
        return fn()
    except MlflowException as exc:
        raise _error(exc.http_status if exc.http_status < 500 else 400, exc.error_code, exc.message) from None
    except Exception as exc:
        raise _error(400, "BAD_REQUEST", f"Invalid input: {type(exc).__name__}: {exc}") from None


async def _read_body(receive: Any, declared: bytes | None) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _error(413, "INVALID_PARAMETER_VALUE", f"Request body exceeds {MAX_BODY_BYTES} bytes.")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _error(413, "INVALID_PARAMETER_VALUE", f"Request body exceeds {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _short(data: Any) -> str:
    text = str(data)
    return text if len(text) <= 1000 else text[:1000] + "..."


def create_scoring_app(model: Any, timeout: float = 60.0, batching: BatchConfig | None = None,
                       allowed_hosts: tuple[str, ...] | None = None) -> ScoringApp:
    return ScoringApp(model, timeout=timeout, batching=batching, allowed_hosts=allowed_hosts)


__all__ = ["SUPPORTED_FORMATS", "BatchConfig", "ScoringApp", "create_scoring_app"]
