"""MLflow's UI-side routes outside the REST table, which tools and bookmarks use (MLflow 2.22.5's shapes):

- ``GET /get-artifact?run_id=&path=``: one artifact file of a run, as a download;
- ``GET /model-versions/get-artifact?name=&version=&path=``: one file of a registered model version;
- ``POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=``: the body (at most 10 MB) stored as an
  artifact of the run;
- ``GET /static-files/<path>``: files of the web UI package (``fluvial/server/ui/``), when present.

Artifact bytes are streamed, 1 MiB at a time, from the run's artifact store or the server's artifacts
destination (``proxy.backend_for``), always as attachments with ``nosniff`` and a sandbox CSP so a
browser never renders them on the server's origin. All under ``--static-prefix``."""

from __future__ import annotations

import mimetypes
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from fluvial._internal.paths import validate_relative_path
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.server import adapter, proxy
from fluvial.server.config import Stores
from fluvial.server.routes import GuardedRoute, route
from fluvial.wire.access import READ_MODEL, READ_RUN, USER, edit

UPLOAD_LIMIT = 10 * 1024 * 1024  # MLflow's cap for upload-artifact
UI_DIR = Path(__file__).resolve().parent / "ui"
STATIC_MAX_AGE = 2419200  # MLflow's four weeks for its hashed UI files
_STATIC_SUFFIXES = {".js", ".mjs", ".css", ".svg", ".png", ".ico", ".woff", ".woff2", ".map", ".json", ".txt"}


def _required(request: Request, *names: str) -> str:
    for name in names:
        value = request.query_params.get(name)
        if value:
            return value
    raise InvalidParameterValue(f"Missing value for required parameter '{names[0]}'.")


def _artifact_path(request: Request) -> str:
    rel = validate_relative_path(request.query_params.get("path"))
    if not rel:
        raise InvalidParameterValue("Missing value for required parameter 'path'.")
    return rel


def _repository_at(stores: Stores, uri: str) -> proxy._Backend:
    """The artifact store at ``uri`` (a run's or a model version's root) as the proxy service reads it;
    ``runs:/<run_id>/<path>`` roots are resolved through the run."""
    from fluvial.server.handlers.artifacts import run_artifact_repository

    if uri.startswith("runs:/"):
        run_id, _, sub = uri[len("runs:/"):].lstrip("/").partition("/")
        root = stores.tracking.get_run(run_id).info.artifact_uri
        sub = validate_relative_path(sub)
        uri = root.rstrip("/") + "/" + sub if sub else root
    return proxy.backend_for(run_artifact_repository(stores, uri))


async def _send_file(request: Request, backend: proxy._Backend, rel: str) -> Response:
    opened = await run_in_threadpool(backend.open, rel)
    return proxy._stream_response(request, opened, rel.rsplit("/", 1)[-1])


def routes(stores: Stores, prefix: str) -> list[GuardedRoute]:
    def guarded(body: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await proxy._guard(lambda: body(request), request.query_params.get("path") or "")

        return endpoint

    async def get_artifact(request: Request) -> Response:
        run_id = _required(request, "run_id", "run_uuid")
        rel = _artifact_path(request)
        info = (await run_in_threadpool(stores.tracking.get_run, run_id)).info
        backend = await run_in_threadpool(_repository_at, stores, info.artifact_uri)
        return await _send_file(request, backend, rel)

    async def model_version_artifact(request: Request) -> Response:
        if stores.config.artifacts_only:
            return adapter.json_error(503, "TEMPORARILY_UNAVAILABLE",
                                      "Endpoint disabled: the server runs with --artifacts-only.")
        name, version = _required(request, "name"), _required(request, "version")
        rel = _artifact_path(request)
        if stores.registry is None:
            raise ResourceDoesNotExist("This server has no model registry.")
        uri = await run_in_threadpool(stores.registry.get_model_version_download_uri, name, version)
        backend = await run_in_threadpool(_repository_at, stores, uri)
        return await _send_file(request, backend, rel)

    async def upload_artifact(request: Request) -> Response:
        run_id = _required(request, "run_uuid")
        rel = _artifact_path(request)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > UPLOAD_LIMIT:
            raise InvalidParameterValue("Artifact size is too large. Max size is 10MB.")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > UPLOAD_LIMIT:
                raise InvalidParameterValue("Artifact size is too large. Max size is 10MB.")
        if not data:
            raise InvalidParameterValue("Request must specify data.")
        info = (await run_in_threadpool(stores.tracking.get_run, run_id)).info
        from fluvial.server.handlers.artifacts import run_artifact_repository

        repo = await run_in_threadpool(run_artifact_repository, stores, info.artifact_uri)
        await run_in_threadpool(_log_bytes, repo, rel, bytes(data))
        return Response(b"{}", media_type=adapter.JSON_TYPE)

    async def static_file(request: Request) -> Response:
        found = static_path(request.path_params["path"])
        if found is None:
            return adapter.json_error(404, "ENDPOINT_NOT_FOUND", "No such file.")
        return FileResponse(found, media_type=_static_type(found), headers={
            "Cache-Control": f"public, max-age={STATIC_MAX_AGE}", "X-Content-Type-Options": "nosniff"})

    return [  # permissions: fluvial/wire/access.py; the fields are query parameters
        route(prefix + "/get-artifact", guarded(get_artifact), ["GET"], READ_RUN),  # run_id, else run_uuid
        # the model's grant decides; the files read are the version's own (its download URI)
        route(prefix + "/model-versions/get-artifact", guarded(model_version_artifact), ["GET"], READ_MODEL),
        # the run named by run_uuid (the one written to), never run_id
        route(prefix + "/ajax-api/2.0/mlflow/upload-artifact", guarded(upload_artifact), ["POST"],
              edit("run", "run_uuid")),
        route(prefix + "/static-files/{path:path}", static_file, ["GET"], USER),
    ]


def _log_bytes(repo: object, rel: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="fluvial-upload-") as tmp:
        local = os.path.join(tmp, os.path.basename(rel))
        with open(local, "wb") as out:
            out.write(data)
        repo.log_artifact(local, os.path.dirname(rel) or None)  # type: ignore[attr-defined]


def static_path(raw: str, root: Path = UI_DIR) -> Path | None:
    """A file under ``root`` (the UI package directory), or None: missing, hidden, not a UI file type, or
    outside (``..``, or a link leading out)."""
    try:
        rel = validate_relative_path(raw)
    except InvalidParameterValue:
        return None
    if not rel or any(part.startswith(".") for part in rel.split("/")):
        return None
    candidate = (root / rel).resolve()
    if root.resolve() not in candidate.parents or candidate.suffix not in _STATIC_SUFFIXES or not candidate.is_file():
        return None
    return candidate


def _static_type(path: Path) -> str:
    if path.suffix in (".js", ".mjs"):
        return "text/javascript; charset=utf-8"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
