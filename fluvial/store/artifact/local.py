"""Artifacts on the local filesystem (plain paths and ``file:`` URIs)."""

from __future__ import annotations

import os
import shutil

from fluvial._internal.paths import safe_join, validate_relative_path
from fluvial._internal.uri import local_path
from fluvial.entities import FileInfo
from fluvial.store.artifact.base import ArtifactRepository


class LocalArtifactRepository(ArtifactRepository):
    def __init__(self, artifact_uri: str) -> None:
        super().__init__(artifact_uri)
        self.root = os.path.abspath(local_path(artifact_uri))

    def _path(self, rel: str | None) -> str:
        return safe_join(self.root, rel)

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        dest_dir = self._path(artifact_path)
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copy2(local_file, os.path.join(dest_dir, os.path.basename(local_file)))
        self._file_done(local_file)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        dest_dir = self._path(artifact_path)
        os.makedirs(dest_dir, exist_ok=True)
        def copy(src: str, dst: str) -> str:
            result = shutil.copy2(src, dst)
            self._file_done(src)
            return str(result)

        shutil.copytree(local_dir, dest_dir, dirs_exist_ok=True, copy_function=copy)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_relative_path(path)
        full = self._path(rel)
        if not os.path.isdir(full):
            return []
        infos = []
        real_root = os.path.realpath(self.root)
        with os.scandir(full) as entries:
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():  # listed only when it stays inside the root
                    target = os.path.realpath(entry.path)
                    if target != real_root and not target.startswith(real_root.rstrip(os.sep) + os.sep):
                        continue
                if entry.is_dir():
                    infos.append(FileInfo(child, True, None))
                else:
                    infos.append(FileInfo(child, False, entry.stat().st_size))
        return sorted(infos, key=lambda f: f.path)

    def _is_dir(self, path: str) -> bool:
        return os.path.isdir(self._path(path))

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        src = self._path(remote_file_path)
        if not os.path.isfile(src):
            from fluvial.exceptions import ResourceDoesNotExist

            raise ResourceDoesNotExist(f"No artifact at {remote_file_path!r} under {self.artifact_uri}")
        shutil.copy2(src, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        rel = validate_relative_path(artifact_path)
        link = os.path.join(self.root, *rel.split("/")) if rel else self.root
        if rel and os.path.islink(link):  # remove the link itself, never what it points at
            os.remove(link)
            return
        target = self._path(rel)
        if os.path.isdir(target):
            shutil.rmtree(target)
        elif os.path.exists(target):
            os.remove(target)
