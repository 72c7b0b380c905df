"""Progress lines for long transfers and builds: one line on stderr, rewritten in place, shown only
when stderr is a terminal (and, for artifacts, unless ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false``).
Elsewhere (pipes, logs, CI) nothing is printed."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator

ENV_ARTIFACTS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_MIN_INTERVAL = 0.1  # seconds between redraws


def on_terminal() -> bool:
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None)) and stream.isatty()


def artifacts_enabled() -> bool:
    return on_terminal() and os.environ.get(ENV_ARTIFACTS, "true").strip().lower() not in ("false", "0")


def _size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} GB"


class Progress:
    """Files and bytes done (of a total when known), as ``label [#####     ] 3/10 files, 1.2 MB``."""

    def __init__(self, label: str, total_files: int | None = None, total_bytes: int | None = None) -> None:
        self.label, self.total_files, self.total_bytes = label, total_files, total_bytes
        self.files = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._drawn = 0.0
        self._width = 0

    def file_done(self, nbytes: int) -> None:
        with self._lock:
            self.files += 1
            self.bytes += nbytes
            now = time.monotonic()
            if now - self._drawn >= _MIN_INTERVAL:
                self._draw()
                self._drawn = now

    def status(self, text: str) -> None:
        """A free-form status after the label (for steps that have no count, like an env build)."""
        with self._lock:
            self._write(f"{self.label}: {text}")

    def _draw(self) -> None:
        count = f"{self.files}/{self.total_files} files" if self.total_files else f"{self.files} files"
        size = _size(self.bytes) + (f" of {_size(self.total_bytes)}" if self.total_bytes else "")
        bar = ""
        if self.total_bytes or self.total_files:
            fraction = self.bytes / self.total_bytes if self.total_bytes else self.files / (self.total_files or 1)
            filled = int(min(1.0, fraction) * 20)
            bar = f"[{'#' * filled}{' ' * (20 - filled)}] "
        self._write(f"{self.label} {bar}{count}, {size}")

    def _write(self, line: str) -> None:
        columns = shutil.get_terminal_size((80, 20)).columns - 1
        line = line[:columns]
        sys.stderr.write("\r" + line + " " * max(0, self._width - len(line)))
        sys.stderr.flush()
        self._width = len(line)

    def finish(self) -> None:
        with self._lock:
            if self.files or self.total_files:
                self._draw()
            if self._width:
                sys.stderr.write("\n")
                sys.stderr.flush()


def tree_size(local_dir: str) -> tuple[int, int]:
    """(files, bytes) under a local directory."""
    files = total = 0
    for root, _dirs, names in os.walk(local_dir):
        for name in names:
            files += 1
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return files, total


@contextlib.contextmanager
def artifact_progress(repo: object, label: str, total_files: int | None = None,
                      total_bytes: int | None = None) -> Iterator[Progress | None]:
    """Report the files ``repo`` transfers inside the block (its ``on_file_done`` hook) on a terminal."""
    if not artifacts_enabled() or not hasattr(repo, "on_file_done"):
        yield None
        return
    progress = Progress(label, total_files, total_bytes)
    previous = repo.on_file_done
    repo.on_file_done = progress.file_done
    try:
        yield progress
    finally:
        repo.on_file_done = previous
        progress.finish()
