"""The one adapter between HTTP and handlers: decode the request by the wire table, call the handler,
encode the answer; and the one place that turns errors into HTTP responses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from starlette.responses import Response

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.server.config import Stores
from fluvial.server.handlers import Handler
from fluvial.server.handlers.limits import check_request
from fluvial.wire.endpoints import Endpoint
from fluvial.wire.fields import decode, query_to_dict

_logger = logging.getLogger("fluvial.server")
# (endpoint, decoded request, the handler bound to the stores) -> response dict
Guard = Callable[[Endpoint, dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]], dict[str, Any]]

# Deterministic failures that MLflow answers with 500 get a 4xx here: the official client retries
# every 500 seven times with exponential backoff (minutes of waiting for an error that will not change).
_STATUS_OVERRIDES = {"INVALID_STATE": 400}
JSON_TYPE = "application/json"


class RequestTooLarge(InvalidParameterValue):
    """A request body over the server's limit (HTTP 413, not retried by clients)."""


def error_response(exc: MlflowException) -> Response:
    status, body = error_body(exc)
    return Response(body, status_code=status, media_type=JSON_TYPE)


def error_pair(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"error_code": code, "message": message})


def json_error(status: int, code: str, message: str) -> Response:
    status, body = error_pair(status, code, message)
    return Response(body, status_code=status, media_type=JSON_TYPE)


def internal_error(exc: BaseException) -> Response:
    """Unexpected failures: logged with the traceback; the client gets no request text reflected back."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.OperationalError) and "locked" in str(exc):
        return json_error(503, "TEMPORARILY_UNAVAILABLE", "The database is busy; retry the request.")
    _logger.exception("Unhandled error while serving a request")
    return json_error(500, "INTERNAL_ERROR", f"Internal server error ({type(exc).__name__}); see the server log.")


def parse_json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
        if isinstance(data, str):  # double-encoded JSON from legacy clients
            data = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameterValue(f"Malformed JSON request body: {exc.args[0] if exc.args else exc}") from None
    return data


async def read_json_body(request: Any, limit: int) -> Any:
    """The JSON body of a Starlette request (routes outside the RPC table, e.g. multipart uploads)."""
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
    return parse_json_body(b"".join(chunks))


def check_content_type(content_type: str | None) -> None:
    if content_type is None:
        raise InvalidParameterValue("Bad Request. Content-Type header is missing.")
    if content_type.split(";")[0].strip().lower() != JSON_TYPE:
        raise InvalidParameterValue(f"Bad Request. Content-Type must be one of {[JSON_TYPE]}.")


def call(
    endpoint: Endpoint,
    handler: Handler,
    stores: Stores,
    method: str,
    query: list[tuple[str, str]],
    content_type: str | None,
    body: bytes,
    path_params: dict[str, str] | None = None,
    guard: Guard | None = None,
) -> tuple[int, bytes]:
    """Decode -> handler -> encode: (HTTP status, JSON body), every MlflowException mapped to its error.
    ``path_params`` (from paths like ``/logged-models/{model_id}``) win over the same names in the body.
    ``guard`` (auth on) runs the handler, checking the caller's permission first."""
    try:
        if method == "GET":
            raw = query_to_dict(query, endpoint.request)
        else:
            if method in ("POST", "PUT"):
                check_content_type(content_type)
            raw = parse_json_body(body)
        if path_params:
            if not isinstance(raw, dict):
                raise InvalidParameterValue(f"Expected a JSON object for 'request', got {type(raw).__name__}.")
            raw = {**raw, **path_params}
        request = decode(endpoint.request, raw)
        check_request(endpoint.name, request)
        if guard is None:
            result = handler(stores, request)
        else:
            result = guard(endpoint, request, lambda req: handler(stores, req))
    except MlflowException as exc:
        return error_body(exc)
    except Exception as exc:
        response = internal_error(exc)
        return response.status_code, bytes(response.body)
    return 200, orjson.dumps(result)


def error_body(exc: MlflowException) -> tuple[int, bytes]:
    status = 413 if isinstance(exc, RequestTooLarge) else _STATUS_OVERRIDES.get(exc.error_code, exc.http_status)
    return status, orjson.dumps({"error_code": exc.error_code, "message": exc.message})
