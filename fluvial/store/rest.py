"""Calling MLflow REST endpoints by name from the wire table: the one request/response path shared by
the REST tracking store, the REST registry store and the HTTP artifact repository."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fluvial.exceptions import STATUS_TO_CODE, MlflowException, RestException
from fluvial.transport.auth import default_headers
from fluvial.transport.base import HttpRequest, HttpResponse, Transport
from fluvial.wire.endpoints import ENDPOINTS, fill_path, path_parameters
from fluvial.wire.fields import encode_double


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return encode_double(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def raise_for_response(response: HttpResponse, what: str) -> None:
    """Raise the typed error for a non-200 answer (RestException when the body is MLflow's error JSON)."""
    if response.status == 200:
        return
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        raise RestException(body)
    text = response.body[:1000].decode("utf-8", "replace")
    raise MlflowException(
        f"API request to endpoint {what} failed with error code {response.status} != 200. Response body: '{text}'",
        error_code=STATUS_TO_CODE.get(response.status, "INTERNAL_ERROR"),
    )


class RestClient:
    """Endpoint calls against one server base URI (``http://host:port[/prefix]``)."""

    def __init__(self, base_uri: str, transport: Transport | None = None) -> None:
        parts = urlsplit(base_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MlflowException(f"Not an http(s) tracking URI: {base_uri!r}")
        self.base_uri = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        if transport is None:
            from fluvial.transport.http import default_transport

            transport = default_transport()
        self.transport = transport

    def url(self, path: str, query: str = "") -> str:
        return self.base_uri + path + (f"?{query}" if query else "")

    def call(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        endpoint = ENDPOINTS[name]
        path = f"/api/{endpoint.version}{endpoint.path}"
        if "{" in path:  # parameters in the path (logged models) travel there, not in the body
            path = fill_path(path, payload)
            payload = {k: v for k, v in payload.items() if k not in path_parameters(endpoint.path)}
        if endpoint.ajax_only:
            path = "/ajax-api" + path[len("/api"):]
        headers = default_headers()
        data = _jsonable(payload)
        if endpoint.method == "GET":
            pairs = []
            for key, value in data.items():
                for item in value if isinstance(value, list) else [value]:
                    pairs.append((key, "true" if item is True else "false" if item is False else str(item)))
            request = HttpRequest("GET", self.url(path, urlencode(pairs)), headers)
        else:
            headers["Content-Type"] = "application/json"
            request = HttpRequest(endpoint.method, self.url(path), headers, json.dumps(data).encode())
        response = self.transport.send(request)
        raise_for_response(response, path)
        if not response.body or response.body.strip() == b"200 OK":
            return {}
        try:
            body = json.loads(response.body)
        except ValueError:
            raise MlflowException(f"The server's answer to {path} is not JSON: {response.body[:200]!r}") from None
        if not isinstance(body, dict):
            raise MlflowException(f"The server's answer to {path} is not a JSON object")
        return body
