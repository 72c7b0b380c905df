"""The one adapter between HTTP and handlers: decode the request by the wire table, call the handler,
encode the answer; and the one place that turns errors into HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fluvial.exceptions import HTTP_STATUS, InvalidParameterValue, MlflowException
from fluvial.server.config import Stores
from fluvial.server.handlers import Handler
from fluvial.wire.endpoints import Endpoint
from fluvial.wire.fields import decode, query_to_dict

_logger = logging.getLogger("fluvial.server")

# Deterministic failures that MLflow answers with 500 get a 4xx here: the official client retries
# every 500 seven times with exponential backoff (minutes of waiting for an error that will not change).
_STATUS_OVERRIDES = {"INVALID_STATE": 400}
JSON_TYPE = "application/json"


class RequestTooLarge(InvalidParameterValue):
    """A request body over the server's limit (HTTP 413, not retried by clients)."""


def error_response(exc: MlflowException) -> Response:
    status = 413 if isinstance(exc, RequestTooLarge) else _STATUS_OVERRIDES.get(exc.error_code, exc.http_status)
    body = {"error_code": exc.error_code, "message": exc.message}
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_TYPE)


def json_error(status: int, code: str, message: str) -> Response:
    return Response(orjson.dumps({"error_code": code, "message": message}), status_code=status, media_type=JSON_TYPE)


def internal_error(exc: BaseException) -> Response:
    """Unexpected failures: logged with the traceback; the client gets no request text reflected back."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.OperationalError) and "locked" in str(exc):
        return json_error(503, "TEMPORARILY_UNAVAILABLE", "The database is busy; retry the request.")
    _logger.exception("Unhandled error while serving a request")
    return json_error(500, "INTERNAL_ERROR", f"Internal server error ({type(exc).__name__}); see the server log.")


async def read_json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"Request body of {declared} bytes exceeds the limit of {limit} bytes.")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
        if isinstance(data, str):  # double-encoded JSON from legacy clients
            data = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameterValue(f"Malformed JSON request body: {exc.args[0] if exc.args else exc}") from None
    return data


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise InvalidParameterValue("Bad Request. Content-Type header is missing.")
    if content_type.split(";")[0].strip().lower() != JSON_TYPE:
        raise InvalidParameterValue(f"Bad Request. Content-Type must be one of {[JSON_TYPE]}.")


async def call(endpoint: Endpoint, handler: Handler, stores: Stores, request: Request) -> Response:
    """Decode -> handler -> encode, with every MlflowException mapped to its JSON error."""
    try:
        if request.method == "GET":
            raw = query_to_dict(list(request.query_params.multi_items()), endpoint.request)
        else:
            if request.method in ("POST", "PUT"):
                _check_content_type(request)
            raw = await read_json_body(request, stores.config.max_request_bytes)
        message = decode(endpoint.request, raw)
        result = handler(stores, message)
    except MlflowException as exc:
        return error_response(exc)
    except Exception as exc:
        return internal_error(exc)
    return Response(orjson.dumps(result), media_type=JSON_TYPE)


def status_of(code: str) -> int:
    return _STATUS_OVERRIDES.get(code, HTTP_STATUS.get(code, 500))
