"""The artifact repository contract: a tree of files under one root URI."""

from __future__ import annotations

import abc
import os
import posixpath
import tempfile
from collections.abc import Callable

from fluvial._internal.paths import validate_relative_path
from fluvial.entities import FileInfo


class ArtifactRepository(abc.ABC):
    """Files under ``artifact_uri``. Paths given to methods are relative to it."""

    # Called with the size of each file transferred (set while a progress line is shown).
    on_file_done: Callable[[int], None] | None = None

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri

    def _file_done(self, local_path: str) -> None:
        if self.on_file_done is not None:
            try:
                size = os.path.getsize(local_path)
            except OSError:
                size = 0
            self.on_file_done(size)

    @abc.abstractmethod
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Store one local file under ``artifact_path`` (a directory), keeping its name."""

    @abc.abstractmethod
    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Store the contents of a local directory under ``artifact_path``."""

    @abc.abstractmethod
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, with paths relative to the root; [] for files and missing dirs."""

    @abc.abstractmethod
    def _download_file(self, remote_file_path: str, local_path: str) -> None: ...

    @abc.abstractmethod
    def delete_artifacts(self, artifact_path: str | None = None) -> None: ...

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Copy a file or a directory tree to ``dst_path`` (a new temp dir by default); the local path.
        On a terminal a progress line counts the files and bytes."""
        from fluvial._internal.progress import artifact_progress

        with artifact_progress(self, "Downloading artifacts"):
            return self._download(artifact_path, dst_path)

    def _download(self, artifact_path: str, dst_path: str | None) -> str:
        rel = validate_relative_path(artifact_path)
        dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="fluvial-artifacts-")
        os.makedirs(dst, exist_ok=True)
        entries = self.list_artifacts(rel) if rel else None
        if rel and not entries and not self._is_dir(rel):
            local = os.path.join(dst, *rel.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            self._download_file(rel, local)
            self._file_done(local)
            return local
        self._download_tree(rel, dst, entries)
        return os.path.join(dst, *rel.split("/")) if rel else dst

    def _is_dir(self, path: str) -> bool:
        """Whether ``path`` is an (empty) directory; repositories that can tell override this."""
        return False

    def _download_tree(self, rel: str, dst: str, entries: list[FileInfo] | None = None) -> None:
        os.makedirs(os.path.join(dst, *rel.split("/")) if rel else dst, exist_ok=True)
        for info in entries if entries is not None else self.list_artifacts(rel or None):
            local = os.path.join(dst, *info.path.split("/"))
            if info.is_dir:
                self._download_tree(info.path, dst)
            else:
                os.makedirs(os.path.dirname(local), exist_ok=True)
                self._download_file(info.path, local)
                self._file_done(local)

    @staticmethod
    def join(*parts: str | None) -> str:
        return posixpath.join(*[p for p in parts if p]) if any(parts) else ""
