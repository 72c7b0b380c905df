"""Artifacts in S3 and S3-compatible object stores (boto3, imported on first use).

URIs are ``s3://bucket[/prefix]``. Settings are MLflow's environment variables: ``MLFLOW_S3_ENDPOINT_URL``
(MinIO, moto, Ceph, ...), ``MLFLOW_S3_IGNORE_TLS``, ``MLFLOW_S3_UPLOAD_EXTRA_ARGS`` (JSON, e.g.
``{"ServerSideEncryption": "aws:kms"}``), ``MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE`` and
``MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION``; credentials and region come from boto3's usual sources
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, instance roles).

Besides the repository contract, the tracking server's artifact proxy uses :meth:`open_stream` (download
as a stream), :meth:`open_upload` (upload from a stream, one part in memory at a time) and the
presigned multipart methods (``mpu/create|complete|abort``, reference §5.2).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fluvial._internal.lazy import require
from fluvial._internal.paths import validate_relative_path
from fluvial.entities import FileInfo
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    PermissionDenied,
    ResourceDoesNotExist,
)
from fluvial.store.artifact.base import ArtifactRepository

CHUNK = 1024 * 1024
PART_SIZE = 8 * 1024 * 1024  # streamed uploads: S3 wants parts of at least 5 MiB (but the last)
MAX_PARTS = 10_000
DELETE_BATCH = 1000

_CLIENT_ENV = (
    "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS", "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE",
    "MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
)
_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix without slashes at either end) of ``s3://bucket/prefix``."""
    scheme, sep, rest = uri.partition("://")
    if scheme.lower() != "s3" or not sep:
        raise InvalidParameterValue(f"Not an S3 URI: {uri!r}. Expected s3://bucket/path")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InvalidParameterValue(f"No bucket in S3 URI: {uri!r}")
    return bucket, validate_relative_path("/".join(p for p in prefix.split("/") if p))


def s3_client() -> Any:
    """A boto3 S3 client for the current settings (cached: creating one costs milliseconds)."""
    key = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    client = _clients.get(key)
    if client is not None:
        return client
    boto3 = require("boto3", "s3")
    from botocore import UNSIGNED
    from botocore.config import Config

    signature = os.environ.get("MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION", "s3v4")
    config = Config(
        signature_version=UNSIGNED if signature.lower() == "unsigned" else signature,
        s3={"addressing_style": os.environ.get("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE", "auto")},
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=32,
    )
    ignore_tls = os.environ.get("MLFLOW_S3_IGNORE_TLS", "").strip().lower() in ("true", "1")
    with _clients_lock:  # boto3 sessions are not thread-safe to create
        client = _clients.get(key)
        if client is None:
            client = boto3.session.Session().client(
                "s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None,
                verify=False if ignore_tls else None, config=config,
            )
            _clients[key] = client
    return client


def _extra_args() -> dict[str, Any]:
    raw = os.environ.get("MLFLOW_S3_UPLOAD_EXTRA_ARGS")
    if not raw:
        return {}
    try:
        extra = json.loads(raw)
    except ValueError:
        raise InvalidParameterValue(f"MLFLOW_S3_UPLOAD_EXTRA_ARGS is not a JSON object: {raw!r}")
    if not isinstance(extra, dict):
        raise InvalidParameterValue(f"MLFLOW_S3_UPLOAD_EXTRA_ARGS is not a JSON object: {raw!r}")
    return extra


_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload"}
_DENIED = {"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_INVALID = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidArgument", "InvalidRequest"}


@contextlib.contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    """botocore's errors as fluvial's typed ones."""
    botocore_exceptions = require("botocore.exceptions", "s3")
    try:
        yield
    except botocore_exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = f"S3 {what} failed: {code} {error.get('Message', '')}".rstrip()
        if code in _MISSING:
            raise ResourceDoesNotExist(message) from None
        if code in _DENIED:
            raise PermissionDenied(message) from None
        if code in _INVALID:
            raise InvalidParameterValue(message) from None
        raise MlflowException(message) from None
    except botocore_exceptions.BotoCoreError as exc:
        raise MlflowException(f"S3 {what} failed: {exc}") from None


class S3Upload:
    """One object written from a stream, in parts sent one after another (memory: about one part).

    ``send_part`` with at least :attr:`part_size` bytes, then ``finish`` with the rest (a small object
    never becomes a multipart upload); ``abort`` on any failure."""

    def __init__(self, client: Any, bucket: str, key: str, extra: dict[str, Any]) -> None:
        self.client, self.bucket, self.key, self.extra = client, bucket, key, extra
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    @property
    def part_size(self) -> int:
        """8 MiB, doubling every 1,000 parts so that 10,000 parts cover any object S3 accepts."""
        return PART_SIZE << (len(self.parts) // 1000)

    def send_part(self, data: bytes | bytearray) -> None:
        with _s3_errors(f"upload of s3://{self.bucket}/{self.key}"):
            if self.upload_id is None:
                created = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self.extra)
                self.upload_id = created["UploadId"]
            if len(self.parts) >= MAX_PARTS:
                raise InvalidParameterValue(f"s3://{self.bucket}/{self.key}: more than {MAX_PARTS} parts")
            number = len(self.parts) + 1
            answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                             PartNumber=number, Body=data)
            self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self, tail: bytes | bytearray) -> None:
        if self.upload_id is None:
            with _s3_errors(f"upload of s3://{self.bucket}/{self.key}"):
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=tail, **self.extra)
            return
        if tail:
            self.send_part(tail)
        with _s3_errors(f"upload of s3://{self.bucket}/{self.key}"):
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                  MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        if self.upload_id is not None:
            with contextlib.suppress(MlflowException), _s3_errors("abort of a multipart upload"):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            self.upload_id = None


class S3ArtifactRepository(ArtifactRepository):
    """Artifacts under ``s3://bucket/prefix``."""

    def __init__(self, artifact_uri: str) -> None:
        super().__init__(artifact_uri)
        self.bucket, self.prefix = parse_s3_uri(artifact_uri)

    @property
    def client(self) -> Any:
        return s3_client()

    def _key(self, rel: str | None) -> str:
        rel = validate_relative_path(rel)
        return posixpath.join(self.prefix, rel) if self.prefix and rel else self.prefix or rel

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # ---- upload ----
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        local_file = os.fspath(local_file)
        directory = validate_relative_path(artifact_path)
        name = os.path.basename(local_file)
        key = self._key(posixpath.join(directory, name) if directory else name)
        transfer = require("boto3.s3.transfer", "s3")
        with _s3_errors(f"upload of {self._where(key)}"):
            self.client.upload_file(local_file, self.bucket, key, ExtraArgs=_extra_args() or None,
                                    Config=transfer.TransferConfig(multipart_chunksize=PART_SIZE))
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
        if len(jobs) <= 1:
            for job in jobs:
                self.log_artifact(*job)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="fluvial-s3") as pool:
            list(pool.map(lambda job: self.log_artifact(*job), jobs))

    def open_upload(self, path: str) -> S3Upload:
        """A streamed upload to ``path`` (a file path relative to the root)."""
        rel = validate_relative_path(path)
        if not rel:
            raise InvalidParameterValue("Invalid path: an upload needs a file path")
        return S3Upload(self.client, self.bucket, self._key(rel), _extra_args())

    # ---- listing ----
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_relative_path(path)
        base = self._key(rel)
        prefix = base + "/" if base else ""
        infos: list[FileInfo] = []
        with _s3_errors(f"listing of {self._where(prefix)}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(prefix):].rstrip("/")
                    if name and "/" not in name:
                        infos.append(FileInfo(posixpath.join(rel, name) if rel else name, True, None))
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(prefix):]
                    if name and "/" not in name:  # "" is a directory marker object
                        infos.append(FileInfo(posixpath.join(rel, name) if rel else name, False, int(obj["Size"])))
        return sorted(infos, key=lambda f: f.path)

    # ---- download ----
    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        key = self._key(remote_file_path)
        transfer = require("boto3.s3.transfer", "s3")
        with _s3_errors(f"download of {self._where(key)}"):
            self.client.download_file(self.bucket, key, local_path,
                                      Config=transfer.TransferConfig(multipart_chunksize=PART_SIZE))

    def open_stream(self, path: str) -> tuple[Any, int]:
        """(the object at ``path`` as a readable stream with ``read(n)`` and ``close()``, its size)."""
        key = self._key(path)
        if not validate_relative_path(path):
            raise ResourceDoesNotExist(f"No artifact at '' under {self.artifact_uri}")
        with _s3_errors(f"download of {self._where(key)}"):
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        return answer["Body"], int(answer.get("ContentLength", 0))

    # ---- delete ----
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        base = self._key(artifact_path)
        prefix = base + "/" if base else ""
        keys = [base] if base else []
        with _s3_errors(f"delete of {self._where(base)}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [obj["Key"] for obj in page.get("Contents", [])]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise MlflowException(f"S3 delete of {self._where(first.get('Key', ''))} failed: "
                                          f"{first.get('Code', '')} {first.get('Message', '')}")

    # ---- multipart upload through presigned URLs (the proxy's mpu endpoints) ----
    def _mpu_key(self, local_file: str, artifact_path: str | None) -> str:
        name = str(local_file).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        directory = validate_relative_path(artifact_path)
        rel = validate_relative_path(posixpath.join(directory, name) if directory else name)
        if not rel or rel == directory:
            raise InvalidParameterValue(f"Invalid path: {local_file!r} names no file")
        return self._key(rel)

    def create_multipart_upload(self, local_file: str, num_parts: int = 1,
                                artifact_path: str | None = None) -> dict[str, Any]:
        """Start an upload of ``artifact_path/<basename of local_file>``; one presigned PUT URL per part."""
        if not 1 <= int(num_parts) <= MAX_PARTS:
            raise InvalidParameterValue(f"num_parts must be between 1 and {MAX_PARTS}, got {num_parts}")
        key = self._mpu_key(local_file, artifact_path)
        client = self.client
        with _s3_errors(f"multipart upload to {self._where(key)}"):
            upload_id = client.create_multipart_upload(Bucket=self.bucket, Key=key, **_extra_args())["UploadId"]
            credentials = [
                {"url": client.generate_presigned_url(
                    "upload_part",
                    Params={"Bucket": self.bucket, "Key": key, "PartNumber": n, "UploadId": upload_id}),
                 "part_number": n, "headers": {}}
                for n in range(1, int(num_parts) + 1)
            ]
        return {"upload_id": upload_id, "credentials": credentials}

    def complete_multipart_upload(self, local_file: str, upload_id: str, parts: list[dict[str, Any]],
                                  artifact_path: str | None = None) -> None:
        key = self._mpu_key(local_file, artifact_path)
        chosen: list[dict[str, Any]] = [{"PartNumber": int(p["part_number"]), "ETag": str(p["etag"])} for p in parts]
        with _s3_errors(f"multipart upload to {self._where(key)}"):
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": sorted(chosen, key=lambda p: p["PartNumber"])})

    def abort_multipart_upload(self, local_file: str, upload_id: str, artifact_path: str | None = None) -> None:
        key = self._mpu_key(local_file, artifact_path)
        with _s3_errors(f"abort of a multipart upload to {self._where(key)}"):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
