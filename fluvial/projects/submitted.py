"""What ``projects.run`` returns: a handle on a launched run (MLflow's ``SubmittedRun`` interface)."""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable

from fluvial.entities import RunStatus

_logger = logging.getLogger(__name__)

CANCEL_GRACE_SECONDS = 10.0


class SubmittedRun(abc.ABC):
    """A project run that was started: wait for it, ask its status, or cancel it. Not thread-safe."""

    @abc.abstractmethod
    def wait(self) -> bool:
        """Wait for the run to end; True when it succeeded."""

    @abc.abstractmethod
    def get_status(self) -> str:
        """The run's status: ``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop the run and wait until it has stopped."""

    @property
    @abc.abstractmethod
    def run_id(self) -> str:
        """The id of the tracking run."""


class LocalSubmittedRun(SubmittedRun):
    """A command running in a local process (the leader of its own process group).

    A watcher thread waits for the process and then ends the tracking run: ``KILLED`` after
    :meth:`cancel`; ``FAILED`` for a non-zero exit status (even if the command had marked the run
    finished); ``FINISHED`` for exit status 0, unless the command already ended the run with another
    status, which is kept. It is not a daemon thread: a program that started an asynchronous run
    waits for it before exiting, so the run's status is always recorded.
    """

    def __init__(self, run_id: str, command_proc: subprocess.Popen[bytes],
                 set_status: Callable[[str | None], str], on_exit: Callable[[], None] | None = None) -> None:
        self._run_id = run_id
        self.command_proc = command_proc
        self._set_status = set_status
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._cancelled = False
        self._exited = False
        self._status: str | None = None
        self._done = threading.Event()  # set once the run's end is recorded (safer to wait on than join)
        self._thread = threading.Thread(target=self._watch, name=f"fluvial-project-run-{run_id}", daemon=False)
        self._thread.start()

    @property
    def run_id(self) -> str:
        return self._run_id

    def _watch(self) -> None:
        code = self.command_proc.wait()
        with self._lock:
            self._exited = True
            cancelled = self._cancelled
        wanted = "KILLED" if cancelled else ("FINISHED" if code == 0 else "FAILED")
        try:
            self._status = self._set_status(None if wanted == "FINISHED" else wanted)
        except Exception:
            _logger.warning("Could not record the end of run %s", self._run_id, exc_info=True)
            self._status = wanted
        finally:
            if self._on_exit is not None:
                try:
                    self._on_exit()
                except Exception:
                    _logger.debug("Cleaning up after run %s failed", self._run_id, exc_info=True)
            self._done.set()

    def wait(self) -> bool:
        self._done.wait()
        return self.command_proc.returncode == 0 and not self._cancelled

    def get_status(self) -> str:
        if self.command_proc.poll() is None:
            return RunStatus.RUNNING.name
        self._done.wait()
        return self._status or RunStatus.FAILED.name

    def cancel(self) -> None:
        with self._lock:
            if self._exited or self.command_proc.poll() is not None:
                self._done.wait()
                return
            self._cancelled = True
        self._signal(signal.SIGTERM)
        self._done.wait(CANCEL_GRACE_SECONDS)
        self._signal(signal.SIGKILL)  # whatever is left of the process group
        self._done.wait()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.command_proc.pid, sig)


__all__ = ["CANCEL_GRACE_SECONDS", "LocalSubmittedRun", "SubmittedRun"]
