"""The proxied artifact service (``/api/2.0/mlflow-artifacts/...``, reference §5.2): clients upload and
download artifact bytes through the tracking server, streamed both ways.

Memory stays flat whatever the file size: uploads to a local destination go to a temporary file beside
the target (renamed into place when complete, so a broken upload leaves nothing), uploads to S3 go out
as a multipart upload one part at a time, and downloads are sent 1 MiB at a time from the open file or
the S3 object. Multipart endpoints hand out presigned part URLs for S3 destinations and answer 501 with
MLflow's message otherwise (the client then falls back to one PUT).

Every path is resolved under the destination root and refused otherwise (``_internal/paths``), and on
a local destination symlinks never lead out of it: a link to outside is refused for reading, writing
and deleting, and left out of listings. Deterministic failures are 4xx JSON errors, never 500s.
"""

from __future__ import annotations

import contextlib
import errno
import mimetypes
import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import anyio
import orjson
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from fluvial._internal.paths import safe_join, validate_relative_path
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    NotImplementedFeature,
    PermissionDenied,
    ResourceDoesNotExist,
)
from fluvial.server import adapter
from fluvial.server.config import Stores
from fluvial.server.routes import route
from fluvial.store.artifact.base import ArtifactRepository
from fluvial.store.artifact.local import LocalArtifactRepository
from fluvial.store.artifact.s3 import S3ArtifactRepository
from fluvial.wire.access import edit, manage, read

BASE = "/api/2.0/mlflow-artifacts"
CHUNK = 1024 * 1024
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"
UPLOAD_PREFIX = ".fluvial-upload-"
_O_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_NAME_MAX, _PATH_MAX = 255, 4096
# Types a browser would run or render as a page; served as attachments in a sandbox whatever their name.
_ACTIVE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                 "text/javascript", "application/javascript"}


class _Source:
    """The bytes of one file, read 1 MiB at a time; closed once: after the last block, by the response's
    cleanup (a client that went away), or at once for HEAD."""

    def __init__(self, stream: Any, size: int | None, cleanup: Callable[[], None] | None = None) -> None:
        self.stream, self.size, self.cleanup = stream, size, cleanup
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        block = b"" if self.closed else self.stream.read(CHUNK)
        if not block:
            self.close()
            raise StopIteration
        return block

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.stream.close()
        if self.cleanup is not None:
            with contextlib.suppress(Exception):
                self.cleanup()


# ---- responses -----------------------------------------------------------------------------------
def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _download_headers(name: str, size: int | None) -> dict[str, str]:
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "artifact"
    headers = {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    return headers


def _media_type(name: str) -> str:
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return "text/plain" if guessed in _ACTIVE_TYPES else guessed


def _stream_response(request: Request, source: _Source, name: str) -> Response:
    headers = _download_headers(name or "artifact", source.size)
    if request.method == "HEAD":
        source.close()
        return Response(b"", media_type=_media_type(name), headers=headers)
    return StreamingResponse(iterate_in_threadpool(source), media_type=_media_type(name), headers=headers,
                             background=BackgroundTask(source.close))


def _os_error(exc: OSError, rel: str) -> MlflowException | None:
    """A filesystem error caused by the request's path, as a 4xx error; None for the server's own trouble."""
    if exc.errno == errno.ENOENT:
        return ResourceDoesNotExist("No artifact at that path.")
    if exc.errno in (errno.ENAMETOOLONG, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.ELOOP,
                     errno.ENOTEMPTY):
        return InvalidParameterValue(f"Invalid path ({os.strerror(exc.errno)}).")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDenied(f"The server may not access that path ({os.strerror(exc.errno)}).")
    return None


def _inside(real_root: str, real: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


# ---- destinations --------------------------------------------------------------------------------
class _Backend:
    """What the service does with one kind of destination. Paths are validated relative paths."""

    multipart_capable = False  # presigned multipart uploads (S3-like stores)

    def check(self, rel: str) -> None:
        """Refuse ``rel`` if it leads out of the destination (beyond what validation of the text catches)."""

    async def upload(self, rel: str, body: AsyncIterator[bytes]) -> None:
        raise NotImplementedError

    def open(self, rel: str) -> _Source:
        """The file at ``rel``; ResourceDoesNotExist when there is none."""
        raise NotImplementedError

    def list(self, rel: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def delete(self, rel: str) -> None:
        raise NotImplementedError

    def multipart(self, action: str, directory: str, data: dict[str, Any]) -> dict[str, Any]:
        """``mpu/create|complete|abort`` for a file in ``directory``; 501 unless the store supports it."""
        raise NotImplementedFeature(MULTIPART_UNSUPPORTED)


class _LocalBackend(_Backend):
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def check(self, rel: str) -> None:
        safe_join(self.root, rel)

    def _real_root(self) -> str:
        return os.path.realpath(self.root)

    async def upload(self, rel: str, body: AsyncIterator[bytes]) -> None:
        target = safe_join(self.root, rel)
        # too long for the filesystem: refuse before any directory is made
        if len(os.fsencode(target)) >= _PATH_MAX or any(len(os.fsencode(p)) > _NAME_MAX for p in rel.split("/")):
            raise InvalidParameterValue("Invalid path: longer than the filesystem allows.")
        if os.path.isdir(target) and not os.path.islink(target):
            raise InvalidParameterValue("Invalid path: it is a directory.")
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        real_dir = os.path.realpath(directory)
        if not _inside(self._real_root(), real_dir):  # a directory swapped for a link since the check
            raise InvalidParameterValue("Invalid path.")
        fd, tmp = tempfile.mkstemp(dir=real_dir, prefix=UPLOAD_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in body:
                    out.write(chunk)
            os.replace(tmp, os.path.join(real_dir, os.path.basename(target)))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def open(self, rel: str) -> _Source:
        real = os.path.realpath(safe_join(self.root, rel))
        fd = os.open(real, _O_FLAGS)  # O_NOFOLLOW: a link swapped in after the check is refused
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ResourceDoesNotExist("No artifact file at that path.")
            os.set_blocking(fd, True)
            fh = os.fdopen(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        return _Source(fh, info.st_size)

    def list(self, rel: str) -> list[dict[str, Any]]:
        full = safe_join(self.root, rel)
        if not os.path.isdir(full):
            return []
        real_root = self._real_root()
        out = []
        with os.scandir(full) as entries:
            for entry in entries:
                if entry.name.startswith(UPLOAD_PREFIX):
                    continue
                if entry.is_symlink() and not _inside(real_root, os.path.realpath(entry.path)):
                    continue  # never show (or stat) what lies outside the root
                try:
                    is_dir = entry.is_dir()
                    size = None if is_dir else entry.stat().st_size
                except OSError:
                    continue
                out.append({"path": entry.name, "is_dir": is_dir, **({} if is_dir else {"file_size": size})})
        return sorted(out, key=lambda e: e["path"])

    def delete(self, rel: str) -> None:
        target = safe_join(self.root, rel)  # a link leading out is refused here
        if os.path.islink(target):
            os.unlink(target)  # the link, never what it points at
        elif os.path.isdir(target):
            shutil.rmtree(target)  # does not follow links inside the tree
        elif os.path.lexists(target):
            os.remove(target)


class _S3Backend(_Backend):
    multipart_capable = True

    def __init__(self, repo: S3ArtifactRepository, prefix: str = "") -> None:
        self.repo, self.prefix = repo, prefix

    def _full(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix and rel else self.prefix or rel

    async def upload(self, rel: str, body: AsyncIterator[bytes]) -> None:
        upload = self.repo.open_upload(self._full(rel))
        buffer = bytearray()
        try:
            async for chunk in body:
                buffer += chunk
                if len(buffer) >= upload.part_size:
                    part, buffer = buffer, bytearray()  # handed over, not copied
                    await run_in_threadpool(upload.send_part, part)
                    del part
            await run_in_threadpool(upload.finish, buffer)
        except BaseException:
            with anyio.CancelScope(shield=True):  # abort even when the request was cancelled
                await run_in_threadpool(upload.abort)
            raise

    def open(self, rel: str) -> _Source:
        body, size = self.repo.open_stream(self._full(rel))
        return _Source(body, size)

    def list(self, rel: str) -> list[dict[str, Any]]:
        return _entries(self.repo.list_artifacts(self._full(rel) or None))

    def delete(self, rel: str) -> None:
        self.repo.delete_artifacts(self._full(rel))

    def multipart(self, action: str, directory: str, data: dict[str, Any]) -> dict[str, Any]:
        target = self._full(directory) or None
        if action == "create":
            fields = _mpu_fields(data, "path")
            return self.repo.create_multipart_upload(fields["path"], fields.get("num_parts", 1), target)
        if action == "complete":
            fields = _mpu_fields(data, "path", "upload_id", "parts")
            self.repo.complete_multipart_upload(fields["path"], fields["upload_id"], fields["parts"], target)
        else:
            fields = _mpu_fields(data, "path", "upload_id")
            self.repo.abort_multipart_upload(fields["path"], fields["upload_id"], target)
        return {}


class _RepositoryBackend(_Backend):
    """Any other repository: uploads staged in a temp file, downloads staged in a temp dir."""

    def __init__(self, repo: ArtifactRepository) -> None:
        self.repo = repo

    async def upload(self, rel: str, body: AsyncIterator[bytes]) -> None:
        with tempfile.TemporaryDirectory(prefix="fluvial-up-") as tmpdir:
            staged = os.path.join(tmpdir, os.path.basename(rel))
            with open(staged, "wb") as out:
                async for chunk in body:
                    out.write(chunk)
            await run_in_threadpool(self.repo.log_artifact, staged, os.path.dirname(rel) or None)

    def open(self, rel: str) -> _Source:
        tmpdir = tempfile.mkdtemp(prefix="fluvial-dl-")
        staged = os.path.join(tmpdir, "file")
        try:
            self.repo._download_file(rel, staged)
            fh = open(staged, "rb", buffering=0)  # noqa: SIM115 (closed by the _Source)
        except BaseException:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise
        return _Source(fh, os.fstat(fh.fileno()).st_size, lambda: shutil.rmtree(tmpdir, ignore_errors=True))

    def list(self, rel: str) -> list[dict[str, Any]]:
        return _entries(self.repo.list_artifacts(rel or None))

    def delete(self, rel: str) -> None:
        self.repo.delete_artifacts(rel)


def _entries(files: list) -> list[dict[str, Any]]:
    return [{"path": f.path.rsplit("/", 1)[-1], "is_dir": f.is_dir,
             **({} if f.is_dir else {"file_size": f.file_size})} for f in files]


def backend_for(repo: ArtifactRepository) -> _Backend:
    from fluvial.server.handlers.artifacts import SubRepository

    if isinstance(repo, SubRepository):  # a run's view of the destination: address the destination itself
        inner = backend_for(repo.parent)
        if isinstance(inner, _LocalBackend):
            return _LocalBackend(safe_join(inner.root, repo.prefix))
        if isinstance(inner, _S3Backend):
            return _S3Backend(inner.repo, inner._full(repo.prefix))
        return _RepositoryBackend(repo)
    if isinstance(repo, LocalArtifactRepository):
        return _LocalBackend(repo.root)
    if isinstance(repo, S3ArtifactRepository):
        return _S3Backend(repo)
    return _RepositoryBackend(repo)


# ---- routes --------------------------------------------------------------------------------------
async def _guard(action: Callable[[], Awaitable[Response]], rel: str = "") -> Response:
    """Run a route body with the one error mapping of the service."""
    try:
        return await action()
    except MlflowException as exc:
        return adapter.error_response(exc)
    except ClientDisconnect:
        return adapter.json_error(400, "BAD_REQUEST", "The client closed the connection before the body was complete.")
    except OSError as exc:
        mapped = _os_error(exc, rel)
        return adapter.error_response(mapped) if mapped is not None else adapter.internal_error(exc)
    except Exception as exc:
        return adapter.internal_error(exc)


def _mpu_fields(data: Any, *required: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidParameterValue("The request body must be a JSON object.")
    for name in required:
        if name not in data:
            raise InvalidParameterValue(f"Missing value for required parameter '{name}'.")
    for name in ("path", "upload_id"):
        if name in data and not isinstance(data[name], str):
            raise InvalidParameterValue(f"Invalid value for parameter '{name}': expected a string.")
    if "num_parts" in data:
        try:
            data["num_parts"] = int(data["num_parts"])
        except (TypeError, ValueError):
            raise InvalidParameterValue("Invalid value for parameter 'num_parts': expected an integer.")
    if "parts" in data:
        parts = data["parts"]
        if not isinstance(parts, list) or not parts or not all(
                isinstance(p, dict) and str(p.get("part_number", "")).isdigit() and isinstance(p.get("etag"), str)
                for p in parts):
            raise InvalidParameterValue("Invalid value for parameter 'parts': expected [{part_number, etag}, ...].")
    return data


def routes(stores: Stores, prefix: str) -> list[Route]:
    repo = stores.artifacts
    backend = backend_for(repo) if repo is not None else None
    limit = stores.config.max_request_bytes

    def disabled() -> Response | None:
        if backend is None:
            return adapter.json_error(503, "TEMPORARILY_UNAVAILABLE",
                                      "Endpoint disabled: the server runs with --no-serve-artifacts.")
        return None

    def file_path(request: Request) -> str:
        rel = validate_relative_path(request.path_params["path"])
        if not rel:
            raise InvalidParameterValue("Invalid path: a file path is required")
        return rel

    async def upload(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off

        async def run() -> Response:
            assert backend is not None
            await backend.upload(file_path(request), request.stream())
            return _json({})

        return await _guard(run, request.path_params["path"])

    async def download(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off

        async def run() -> Response:
            assert backend is not None
            rel = file_path(request)
            source = await run_in_threadpool(backend.open, rel)
            return _stream_response(request, source, rel.rsplit("/", 1)[-1])

        return await _guard(run, request.path_params["path"])

    async def listing(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off

        async def run() -> Response:
            assert backend is not None
            rel = validate_relative_path(request.query_params.get("path"))
            entries = await run_in_threadpool(backend.list, rel)
            return _json({"files": entries} if entries else {})

        return await _guard(run, request.query_params.get("path") or "")

    async def delete(request: Request) -> Response:
        if (off := disabled()) is not None:
            return off

        async def run() -> Response:
            assert backend is not None
            rel = validate_relative_path(request.path_params["path"])
            if not rel:
                raise InvalidParameterValue("Invalid path: refusing to delete the artifacts root")
            await run_in_threadpool(backend.delete, rel)
            return _json({})

        return await _guard(run, request.path_params["path"])

    def multipart(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if (off := disabled()) is not None:
                return off

            async def run() -> Response:
                assert backend is not None
                directory = validate_relative_path(request.path_params["path"])
                backend.check(directory)
                if not backend.multipart_capable:  # answer 501 before reading any body
                    raise NotImplementedFeature(MULTIPART_UNSUPPORTED)
                content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
                if content_type != adapter.JSON_TYPE:
                    raise InvalidParameterValue(f"Bad Request. Content-Type must be {adapter.JSON_TYPE}.")
                data = await adapter.read_json_body(request, limit)
                return _json(await run_in_threadpool(backend.multipart, action, directory, data))

            return await _guard(run, request.path_params["path"])

        return endpoint

    read_path, edit_path, manage_path = read("artifact_path"), edit("artifact_path"), manage("artifact_path")
    out: list[Route] = []
    for base in (BASE, prefix + "/ajax-api/2.0/mlflow-artifacts"):
        out += [
            route(base + "/artifacts", listing, ["GET"], read_path),  # ?path=
            route(base + "/artifacts/{path:path}", upload, ["PUT"], edit_path),
            route(base + "/artifacts/{path:path}", download, ["GET"], read_path),
            route(base + "/artifacts/{path:path}", delete, ["DELETE"], manage_path),
            route(base + "/mpu/create/{path:path}", multipart("create"), ["POST"], edit_path),
            route(base + "/mpu/complete/{path:path}", multipart("complete"), ["POST"], edit_path),
            route(base + "/mpu/abort/{path:path}", multipart("abort"), ["POST"], edit_path),
        ]
    return out
