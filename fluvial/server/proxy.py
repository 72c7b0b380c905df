"""The proxied artifact service (``/api/2.0/mlflow-artifacts/...``): clients upload and download
artifact bytes through the tracking server, streamed in both directions; ``/get-artifact`` for the UI.

Every path is resolved under the artifacts destination and refused otherwise (``_internal/paths``)."""

from __future__ import annotations

import mimetypes
import os
import tempfile
import uuid
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from fluvial._internal.paths import safe_join, validate_relative_path
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    NotImplementedFeature,
    ResourceDoesNotExist,
)
from fluvial.server import adapter
from fluvial.server.config import Stores
from fluvial.store.artifact.local import LocalArtifactRepository

BASE = "/api/2.0/mlflow-artifacts"
CHUNK = 1024 * 1024
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _download_headers(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
    }


async def _spool(request: Request, directory: str) -> str:
    """Write the request body to a new temp file in ``directory`` (1 MiB chunks); its path."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def routes(stores: Stores, prefix: str) -> list[Route]:
    repo = stores.artifacts
    local = repo if isinstance(repo, LocalArtifactRepository) else None

    def disabled() -> Response | None:
        if repo is None:
            return PlainTextResponse(
                "Endpoint disabled: the server runs with --no-serve-artifacts.", status_code=503
            )
        return None

    async def upload(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off
        try:
            rel = validate_relative_path(request.path_params["path"])
            if not rel:
                raise InvalidParameterValue("Invalid path: an upload needs a file path")
            if local is not None:
                target = safe_join(local.root, rel)
                if os.path.isdir(target):
                    raise InvalidParameterValue(f"Invalid path: {rel!r} is a directory")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                safe_join(local.root, rel)  # re-check: directories made above must not be links out
                tmp = await _spool(request, os.path.dirname(target))
                os.replace(tmp, target)
            else:
                with tempfile.TemporaryDirectory() as tmpdir:
                    staged = os.path.join(tmpdir, os.path.basename(rel))
                    os.replace(await _spool(request, tmpdir), staged)
                    directory = os.path.dirname(rel)
                    repo.log_artifact(staged, directory or None)
        except MlflowException as exc:
            return adapter.error_response(exc)
        except Exception as exc:
            return adapter.internal_error(exc)
        return _json({})

    async def download(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off
        try:
            rel = validate_relative_path(request.path_params["path"])
            name = os.path.basename(rel) or "artifact"
            if local is not None:
                target = safe_join(local.root, rel)
                if not os.path.isfile(target):
                    raise ResourceDoesNotExist(f"No artifact at '{rel}'")
                media = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return FileResponse(target, media_type=media, headers=_download_headers(name))
            tmpdir = tempfile.mkdtemp(prefix="fluvial-dl-")
            staged = os.path.join(tmpdir, uuid.uuid4().hex)
            repo._download_file(rel, staged)
            import shutil

            from starlette.background import BackgroundTask

            return FileResponse(staged, headers=_download_headers(name),
                                background=BackgroundTask(shutil.rmtree, tmpdir, True))
        except MlflowException as exc:
            return adapter.error_response(exc)
        except Exception as exc:
            return adapter.internal_error(exc)

    async def listing(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off
        try:
            rel = validate_relative_path(request.query_params.get("path"))
            files = repo.list_artifacts(rel or None)
        except MlflowException as exc:
            return adapter.error_response(exc)
        except Exception as exc:
            return adapter.internal_error(exc)
        entries = [
            {"path": os.path.basename(f.path), "is_dir": f.is_dir, **({} if f.is_dir else {"file_size": f.file_size})}
            for f in files
        ]
        return _json({"files": entries} if entries else {})

    async def delete(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off
        try:
            rel = validate_relative_path(request.path_params["path"])
            if not rel:
                raise InvalidParameterValue("Invalid path: refusing to delete the artifacts root")
            repo.delete_artifacts(rel)
        except MlflowException as exc:
            return adapter.error_response(exc)
        except Exception as exc:
            return adapter.internal_error(exc)
        return _json({})

    async def multipart(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off
        return adapter.error_response(NotImplementedFeature(MULTIPART_UNSUPPORTED))

    async def get_artifact(request: Request) -> Response:
        from fluvial.server.handlers.artifacts import run_artifact_repository

        try:
            run_id = request.query_params.get("run_id") or request.query_params.get("run_uuid")
            if not run_id:
                raise InvalidParameterValue("Missing value for required parameter 'run_id'.")
            rel = validate_relative_path(request.query_params.get("path"))
            run = stores.tracking.get_run(run_id)
            run_repo = run_artifact_repository(stores, run.info.artifact_uri)
            tmpdir = tempfile.mkdtemp(prefix="fluvial-get-")
            staged = os.path.join(tmpdir, "file")
            run_repo._download_file(rel, staged)
        except MlflowException as exc:
            return adapter.error_response(exc)
        except Exception as exc:
            return adapter.internal_error(exc)
        import shutil

        from starlette.background import BackgroundTask

        name = os.path.basename(rel)
        return FileResponse(staged, media_type="application/octet-stream", headers=_download_headers(name),
                            background=BackgroundTask(shutil.rmtree, tmpdir, True))

    out: list[Route] = []
    for base in (BASE, prefix + "/ajax-api/2.0/mlflow-artifacts"):
        out += [
            Route(base + "/artifacts", listing, methods=["GET"]),
            Route(base + "/artifacts/{path:path}", upload, methods=["PUT"]),
            Route(base + "/artifacts/{path:path}", download, methods=["GET"]),
            Route(base + "/artifacts/{path:path}", delete, methods=["DELETE"]),
            Route(base + "/mpu/create/{path:path}", multipart, methods=["POST"]),
            Route(base + "/mpu/complete/{path:path}", multipart, methods=["POST"]),
            Route(base + "/mpu/abort/{path:path}", multipart, methods=["POST"]),
        ]
    out.append(Route(prefix + "/get-artifact", get_artifact, methods=["GET"]))
    return out
