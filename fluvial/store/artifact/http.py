"""Artifacts behind a tracking server's proxied artifact service (``/api/2.0/mlflow-artifacts``).

Serves ``mlflow-artifacts:/<path>`` URIs (resolved against the tracking URI, reference §5.3) and
``http(s)://host[/prefix]/api/2.0/mlflow-artifacts/artifacts/<path>`` URIs. Bytes are streamed both ways:
uploads are sent from the open file with a Content-Length (never read whole into memory), downloads are
written to disk 1 MiB at a time. Artifact URIs are literal strings, as MLflow and fluvial write them; every
path segment is percent-encoded here when it becomes part of a request URL, so names with spaces,
unicode, ``?``, ``#``, ``%`` or ``;`` round-trip intact.

Which tracking URI an ``mlflow-artifacts:`` URI resolves against: the ``tracking_uri`` argument when a
caller (a client bound to one server) passes it; otherwise the provider registered under the name
``current`` of the registry kind ``tracking_uri`` (the client layer's ``get_tracking_uri``: the
registry is the one way a lower layer reaches a higher one); otherwise ``MLFLOW_TRACKING_URI``, which
``set_tracking_uri`` keeps in step.
"""

from __future__ import annotations

import http.client
import json
import mimetypes
import os
import posixpath
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar, cast
from urllib.parse import quote, urlencode, urlsplit

from fluvial._internal import registry
from fluvial._internal.paths import validate_relative_path
from fluvial.entities import FileInfo
from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.store.artifact.base import ArtifactRepository
from fluvial.store.rest import raise_for_response
from fluvial.transport.auth import default_headers
from fluvial.transport.base import HttpRequest, HttpResponse, Transport

ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"
MPU_ROUTE = "/api/2.0/mlflow-artifacts/mpu"
CHUNK = 1024 * 1024
PARALLEL = 4
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"

T = TypeVar("T")


# ---- where the server is -------------------------------------------------------------------------
def current_tracking_uri() -> str | None:
    """The process's tracking URI, as the client layer sees it (see the module docstring)."""
    if "current" in registry.names("tracking_uri"):
        return registry.lookup("tracking_uri", "current")()
    return os.environ.get("MLFLOW_TRACKING_URI")


def _clean(path: str) -> str:
    return "/".join(p for p in path.split("/") if p)


def resolve_artifact_uri(artifact_uri: str, tracking_uri: str | None = None) -> tuple[str, str]:
    """(server base URL ``scheme://host[:port][/prefix]``, root path under the artifacts route).

    ``mlflow-artifacts:`` URIs take the scheme and path prefix of the tracking URI, and its host unless
    the artifact URI names one (``mlflow-artifacts://host:port/path``)."""
    scheme, _, rest = artifact_uri.partition(":")
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        head, found, tail = artifact_uri.partition(ARTIFACTS_ROUTE)
        if not found or not urlsplit(head).netloc:
            raise InvalidParameterValue(
                f"Not a proxied artifact URI: {artifact_uri!r}. Expected http(s)://host[:port][/prefix]"
                f"{ARTIFACTS_ROUTE}/<path>"
            )
        base, root = head.rstrip("/"), tail
    elif scheme == "mlflow-artifacts":
        tracking = tracking_uri or current_tracking_uri() or ""
        parts = urlsplit(tracking)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MlflowException(
                f"The artifact URI {artifact_uri!r} is served by a tracking server, but the tracking URI is "
                f"{tracking or 'not set'!r}. Point the client at the server: "
                "mlflow.set_tracking_uri('http://host:port') or MLFLOW_TRACKING_URI=http://host:port."
            )
        netloc = parts.netloc
        if rest.startswith("//"):
            host, slash, path = rest[2:].partition("/")
            if host:
                if host.isdigit():
                    raise InvalidParameterValue(
                        f"Invalid host {host!r} in {artifact_uri!r}: a host is a name or an address with a port, "
                        "e.g. mlflow-artifacts://server:5000/path."
                    )
                netloc = host
            rest = slash + path
        base, root = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", rest
    else:
        raise InvalidParameterValue(f"Not an mlflow-artifacts or http(s) artifact URI: {artifact_uri!r}")
    return base, validate_relative_path(_clean(root))


def encode_path(path: str) -> str:
    """Each segment of a relative path percent-encoded (``/`` kept as the separator)."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


# ---- streaming helpers ---------------------------------------------------------------------------
class _BigReads:
    """A file, or ``length`` bytes of it from ``offset``, read in 1 MiB blocks whatever block size the
    HTTP client asks for; seekable so a retry can start over."""

    def __init__(self, fh: IO[bytes], offset: int = 0, length: int | None = None) -> None:
        self.fh, self.offset = fh, offset
        self.end = None if length is None else offset + length
        fh.seek(offset)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # everything that is left (in-process transports read it whole)
            return self.fh.read() if self.end is None else self.fh.read(max(self.end - self.fh.tell(), 0))
        want = max(size, CHUNK)
        if self.end is not None:
            want = min(want, self.end - self.fh.tell())
            if want <= 0:
                return b""
        return self.fh.read(want)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.fh.seek(pos, whence)

    def tell(self) -> int:
        return self.fh.tell()


def _reader(fh: IO[bytes], offset: int = 0, length: int | None = None) -> IO[bytes]:
    return cast(IO[bytes], _BigReads(fh, offset, length))


def _parallel(fn: Callable[[T], Any], items: list[T]) -> list[Any]:
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items)), thread_name_prefix="fluvial-artifacts") as pool:
        return list(pool.map(fn, items))


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# ---- the repository ------------------------------------------------------------------------------
class HttpArtifactRepository(ArtifactRepository):
    """Artifacts under ``artifact_uri`` on a tracking server that serves artifacts."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, transport: Transport | None = None) -> None:
        super().__init__(artifact_uri)
        self.base_url, self.root = resolve_artifact_uri(artifact_uri, tracking_uri)
        if transport is None:
            from fluvial.transport.http import default_transport

            transport = default_transport()
        self.transport = transport

    # ---- URLs ----
    def _full(self, rel: str) -> str:
        return posixpath.join(self.root, rel) if self.root and rel else self.root or rel

    def _file_url(self, rel: str) -> str:
        return f"{self.base_url}{ARTIFACTS_ROUTE}/{encode_path(self._full(rel))}"

    def _send(self, request: HttpRequest, what: str, stream: bool = False) -> HttpResponse:
        response = self.transport.send(request, stream=stream)
        if response.status != 200:
            raise_for_response(response, what)
        return response

    # ---- upload ----
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        local_file = os.fspath(local_file)
        directory = validate_relative_path(artifact_path)
        name = os.path.basename(local_file)
        rel = validate_relative_path(posixpath.join(directory, name) if directory else name)
        if not rel or rel == directory:
            raise InvalidParameterValue(f"Cannot log {local_file!r}: it has no file name")
        size = os.path.getsize(local_file)
        if not (self._multipart_wanted(size) and self._multipart_upload(local_file, directory, size)):
            headers = {**default_headers(), "Content-Type": _mime(name), "Content-Length": str(size)}
            with open(local_file, "rb") as fh:
                self._send(HttpRequest("PUT", self._file_url(rel), headers, _reader(fh)), f"PUT {ARTIFACTS_ROUTE}")
        self._file_done(local_file)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        local_dir = os.path.abspath(os.fspath(local_dir))
        directory = validate_relative_path(artifact_path)
        jobs: list[tuple[str, str | None]] = []
        for root, _dirs, files in os.walk(local_dir):
            sub = os.path.relpath(root, local_dir)
            sub = "" if sub == "." else sub.replace(os.sep, "/")
            target = posixpath.join(directory, sub) if directory and sub else directory or sub
            jobs += [(os.path.join(root, f), target or None) for f in sorted(files)]
        _parallel(lambda job: self.log_artifact(*job), jobs)

    # ---- multipart (through presigned URLs the server hands out; reference §5.2) ----
    @staticmethod
    def _multipart_wanted(size: int) -> bool:
        enabled = os.environ.get("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "").strip().lower() in ("true", "1")
        return enabled and size >= _env_int("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", 500 * 1024 * 1024)

    def _mpu(self, action: str, directory: str, payload: dict[str, Any]) -> HttpResponse:
        target = self._full(directory)
        url = f"{self.base_url}{MPU_ROUTE}/{action}" + (f"/{encode_path(target)}" if target else "")
        headers = {**default_headers(), "Content-Type": "application/json"}
        return self.transport.send(HttpRequest("POST", url, headers, json.dumps(payload).encode()))

    def _multipart_upload(self, local_file: str, directory: str, size: int) -> bool:
        """Upload in parts straight to the object store; False when the server does not support it."""
        chunk = max(_env_int("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", 10 * 1024 * 1024), 5 * 1024 * 1024)
        num_parts = max((size + chunk - 1) // chunk, 1)
        created = self._mpu("create", directory, {"path": local_file, "num_parts": num_parts})
        if created.status == 501:
            try:
                message = created.json().get("message", "")
            except ValueError:
                message = ""
            if isinstance(message, str) and message.startswith(MULTIPART_UNSUPPORTED):
                return False
        raise_for_response(created, f"POST {MPU_ROUTE}/create")
        answer = created.json()
        upload_id = answer["upload_id"]
        credentials = sorted(answer.get("credentials", []), key=lambda c: int(c["part_number"]))

        def put_part(credential: dict[str, Any]) -> dict[str, Any]:
            number = int(credential["part_number"])
            offset = (number - 1) * chunk
            length = max(min(chunk, size - offset), 0)
            headers = {**credential.get("headers", {}), "Content-Length": str(length)}
            with open(local_file, "rb") as fh:
                response = self.transport.send(
                    HttpRequest("PUT", credential["url"], headers, _reader(fh, offset, length)))
            if response.status != 200:
                raise MlflowException(f"Uploading part {number} of {local_file!r} failed with HTTP {response.status}: "
                                      f"{response.body[:500].decode('utf-8', 'replace')}")
            return {"part_number": number, "etag": response.headers.get("etag", ""), "url": credential["url"]}

        try:
            if len(credentials) != num_parts:
                raise MlflowException(f"The server handed out {len(credentials)} part URLs for {num_parts} parts")
            parts = _parallel(put_part, credentials)
            done = self._mpu("complete", directory, {"path": local_file, "upload_id": upload_id, "parts": parts})
            raise_for_response(done, f"POST {MPU_ROUTE}/complete")
        except BaseException:
            try:
                self._mpu("abort", directory, {"path": local_file, "upload_id": upload_id})
            except MlflowException:
                pass
            raise
        return True

    # ---- listing ----
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_relative_path(path)
        query = urlencode({"path": self._full(rel)}, quote_via=quote)
        response = self._send(HttpRequest("GET", f"{self.base_url}{ARTIFACTS_ROUTE}?{query}", default_headers()),
                              f"GET {ARTIFACTS_ROUTE}")
        try:
            entries = response.json().get("files", [])
        except (ValueError, AttributeError):
            raise MlflowException(f"The server's artifact listing is not a JSON object: {response.body[:200]!r}")
        infos = []
        for entry in entries:
            name = str(entry.get("path", "")).rstrip("/").rsplit("/", 1)[-1]
            if not validate_relative_path(name):
                continue
            child = posixpath.join(rel, name) if rel else name
            is_dir = bool(entry.get("is_dir", False))
            size = entry.get("file_size")
            infos.append(FileInfo(child, is_dir, None if is_dir or size is None else int(size)))
        return sorted(infos, key=lambda f: f.path)

    # ---- download ----
    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        rel = validate_relative_path(remote_file_path)
        response = self._send(HttpRequest("GET", self._file_url(rel), default_headers()),
                              f"GET {ARTIFACTS_ROUTE}", stream=True)
        partial = f"{local_path}.fluvial-part"
        try:
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
            os.replace(partial, local_path)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise MlflowException(f"Downloading {rel!r} from {self.base_url} failed: {exc}") from exc
        finally:
            response.close()
            if os.path.exists(partial):
                os.remove(partial)

    def _download_tree(self, rel: str, dst: str, entries: list[FileInfo] | None = None) -> None:
        """List the whole tree first (directories made as found), then fetch the files in parallel."""
        files: list[FileInfo] = []
        pending: list[tuple[str, Iterable[FileInfo] | None]] = [(rel, entries)]
        while pending:
            directory, listed = pending.pop()
            os.makedirs(os.path.join(dst, *directory.split("/")) if directory else dst, exist_ok=True)
            for info in listed if listed is not None else self.list_artifacts(directory or None):
                if info.is_dir:
                    pending.append((info.path, None))
                else:
                    files.append(info)
        _parallel(lambda info: self._download_file(info.path, os.path.join(dst, *info.path.split("/"))), files)

    # ---- delete ----
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        rel = validate_relative_path(artifact_path)
        self._send(HttpRequest("DELETE", self._file_url(rel), default_headers()), f"DELETE {ARTIFACTS_ROUTE}")
