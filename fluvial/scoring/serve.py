"""``fluvial models serve`` wiring: load the model once, then run the scoring app on the process
runner (bind, fork workers). The model is loaded before the workers are forked, so they share its
memory pages and a model that fails to load fails the command at once with one clear line."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fluvial.exceptions import InvalidParameterValue
from fluvial.scoring.batching import BatchConfig

ANY_ADDRESS = ("0.0.0.0", "::", "[::]")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    timeout: float = 60.0
    batching: BatchConfig | None = None
    allowed_hosts: tuple[str, ...] = ("*",)  # Host header values accepted; "*" accepts any


def default_allowed_hosts(host: str) -> tuple[str, ...]:
    """Loopback names plus the bound address; any Host when listening on all interfaces (a container,
    a host behind a load balancer)."""
    if host in ANY_ADDRESS:
        return ("*",)
    return tuple(dict.fromkeys(("localhost", "127.0.0.1", "[::1]", host if ":" not in host else f"[{host.strip('[]')}]")))


def available_cpus() -> int:
    """CPUs this process may use: the cgroup CPU quota when one is set (containers), else the CPUs in
    its affinity mask."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def parse_workers(value: str | int) -> int:
    """``--workers``: a positive number, or ``auto`` for one worker per available CPU."""
    text = str(value).strip().lower()
    if text == "auto":
        return available_cpus()
    try:
        workers = int(text)
    except ValueError:
        raise InvalidParameterValue(f"--workers must be a positive number or 'auto'; got {value!r}.") from None
    if workers < 1:
        raise InvalidParameterValue(f"--workers must be at least 1; got {workers}.")
    return workers


def working_dir_on_path() -> None:
    """Put the working directory first on ``sys.path``, as MLflow's scoring server does, so a model
    whose code imports modules next to where it is served from loads."""
    import sys

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def load_for_serving(model_dir: str) -> Any:
    """The pyfunc model in ``model_dir`` (loaded with the working directory on ``sys.path``)."""
    from fluvial.pyfunc.loading import load_model

    working_dir_on_path()
    return load_model(model_dir)


def serve_model(model_dir: str, options: ServeOptions, on_ready: Callable[[str], None] | None = None,
                model: Any = None) -> None:
    """Serve the model in the local directory ``model_dir`` until SIGINT/SIGTERM."""
    from fluvial.scoring.server import create_scoring_app
    from fluvial.server.runner import serve

    model = model if model is not None else load_for_serving(model_dir)
    allowed = None if "*" in options.allowed_hosts else options.allowed_hosts

    def make_app() -> Any:
        return create_scoring_app(model, timeout=options.timeout, batching=options.batching, allowed_hosts=allowed)

    serve(make_app, options.host, options.port, options.workers, on_ready=on_ready)


__all__ = ["ServeOptions", "available_cpus", "default_allowed_hosts", "load_for_serving", "parse_workers",
           "serve_model", "working_dir_on_path"]
