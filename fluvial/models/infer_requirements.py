"""Inferring a saved model's pip requirements from what it imports.

Inference (:func:`infer_pip_requirements`) runs ONE short Python subprocess that loads the model, predicts
on its input example, and records the top-level modules imported meanwhile. The parent maps them to
installed distributions and applies these rules, in order:

1. stdlib, private (``_x``) modules and modules that belong to no installed distribution are dropped;
2. a distribution that another captured distribution requires (transitively, extras ignored) is pruned,
   because installing the other one brings it; except the core data packages in :data:`NEVER_PRUNED`
   (numpy, pandas, scipy, pyarrow, scikit-learn, matplotlib), whose exact versions decide whether pickled
   data loads, so they stay pinned whenever the model imports them;
3. ``fluvial``, ``mlflow``, ``mlflow-skinny`` and ``setuptools`` are dropped (the environment managers
   install fluvial or mlflow themselves, and with them their own dependencies, which rule 2 prunes);
4. pandas older than 2.1.2 adds numpy (those pandas releases do not bound numpy < 2);
5. each remaining distribution is pinned ``name==installed-version`` (PEP 503 name, local version label
   such as ``+cu118`` stripped with a logged warning), and the list is sorted.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.models.requirements import (
    MARKER_TOKEN,
    NAME_PATTERN,
    SELF_PACKAGES,
    installed_version,
    normalize_name,
    pinned_requirement,
)

_logger = logging.getLogger(__name__)

TIMEOUT_ENV = "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT"
RAISE_ERRORS_ENV = "MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS"
# set in the capture subprocess (MLflow's name), so a save_model inside a loader does not recurse
IN_CAPTURE_ENV = "_MLFLOW_IN_CAPTURE_MODULE_PROCESS"
DEFAULT_TIMEOUT = 120.0
DEFAULT_LOADER = "fluvial.pyfunc:load_model"

NEVER_PRUNED = frozenset({"numpy", "pandas", "scipy", "pyarrow", "scikit-learn", "matplotlib"})
_EXCLUDED = SELF_PACKAGES | {"setuptools"}

# distribution metadata: requires, with environment markers evaluated


def _marker_env() -> dict[str, str]:
    return {
        "python_version": "{}.{}".format(*sys.version_info[:2]),
        "python_full_version": platform.python_version(),
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_machine": platform.machine(),
        "platform_system": platform.system(),
        "platform_release": platform.release(),
        "platform_python_implementation": platform.python_implementation(),
        "implementation_name": sys.implementation.name,
        "implementation_version": "{}.{}.{}".format(*sys.implementation.version[:3]),
        "extra": "",
    }


def _version_key(text: str) -> tuple[Any, ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.+-]", text))


def _compare(left: str, op: str, right: str, versions: bool) -> bool:
    if op in ("in", "not in"):
        return (left in right) == (op == "in")
    if op in ("==", "!=") and right.endswith(".*"):
        return left.startswith(right[:-2]) == (op == "==")
    if versions:
        a, b = _version_key(left), _version_key(right)
    else:
        a, b = left, right  # type: ignore[assignment]
    return {
        "==": a == b, "===": left == right, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
        "~=": a >= b and a[: max(len(b) - 1, 1)] == b[: max(len(b) - 1, 1)],
    }[op]


def marker_matches(marker: str, env: dict[str, str] | None = None) -> bool:
    """Evaluate a PEP 508 marker for this interpreter; unreadable markers count as true."""
    env = env or _marker_env()
    tokens = []
    pos = 0
    while pos < len(marker):
        if marker[pos].isspace():
            pos += 1
            continue
        match = MARKER_TOKEN.match(marker, pos)
        if not match or match.end() == pos:
            return True
        tokens.append(match.group(1))
        pos = match.end()

    def value(tok: str) -> tuple[str, bool]:
        if tok[0] in "'\"":
            return tok[1:-1], False
        return env.get(tok, ""), tok.endswith("version")

    def atom(i: int) -> tuple[bool, int]:
        if tokens[i] == "(":
            result, i = expr(i + 1)
            return result, i + 1
        (left, lv), op, (right, rv) = value(tokens[i]), tokens[i + 1], value(tokens[i + 2])
        op = "not in" if op.startswith("not") else op
        return _compare(left, op, right, lv or rv), i + 3

    def conj(i: int) -> tuple[bool, int]:
        result, i = atom(i)
        while i < len(tokens) and tokens[i] == "and":
            other, i = atom(i + 1)
            result = result and other
        return result, i

    def expr(i: int) -> tuple[bool, int]:
        result, i = conj(i)
        while i < len(tokens) and tokens[i] == "or":
            other, i = conj(i + 1)
            result = result or other
        return result, i

    try:
        return expr(0)[0]
    except (IndexError, KeyError, TypeError):
        return True


def _parse_requires(lines: Iterable[str], env: dict[str, str]) -> list[str]:
    out = []
    for line in lines:
        name, _, marker = line.partition(";")
        if "extra" in marker and re.search(r"\bextra\s*==", marker):
            continue
        if marker.strip() and not marker_matches(marker.strip(), env):
            continue
        match = re.match(NAME_PATTERN, name.strip())
        if match:
            out.append(normalize_name(match.group(0)))
    return out


def requires(package: str, env: dict[str, str] | None = None) -> list[str]:
    """Normalized names of what an installed distribution requires (extras ignored, markers evaluated)."""
    try:
        lines = importlib.metadata.requires(package) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return _parse_requires(lines, env or _marker_env())


class DistributionIndex:
    """What is installed: top-level module -> distributions, and each distribution's requirements.
    Read once per inference, and warmed in a thread while the capture subprocess runs."""

    def __init__(self) -> None:
        self.env = _marker_env()
        self._modules: dict[str, list[str]] | None = None
        self._requires: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def module_map(self) -> dict[str, list[str]]:
        with self._lock:
            if self._modules is None:
                self._modules = dict(importlib.metadata.packages_distributions())
            return self._modules

    def requires(self, package: str) -> list[str]:
        key = normalize_name(package)
        with self._lock:
            cached = self._requires.get(key)
        if cached is None:
            cached = requires(key, self.env)
            with self._lock:
                self._requires.setdefault(key, cached)
        return cached

    def warm(self) -> None:
        self.module_map()
        for dist in importlib.metadata.distributions():
            try:
                key = normalize_name(dist.metadata["Name"] or "")
                parsed = _parse_requires(dist.requires or [], self.env)
            except Exception:
                continue
            with self._lock:
                self._requires.setdefault(key, parsed)

    def requires_recursive(self, package: str) -> set[str]:
        """Every distribution ``package`` pulls in, directly or transitively (not itself)."""
        seen: set[str] = set()
        todo = [normalize_name(package)]
        while todo:
            for req in self.requires(todo.pop()):
                if req not in seen:
                    seen.add(req)
                    todo.append(req)
        seen.discard(normalize_name(package))
        return seen


def prune_packages(packages: Iterable[str], index: DistributionIndex | None = None) -> set[str]:
    """Drop packages that another package in the set requires (except :data:`NEVER_PRUNED`)."""
    index = index or DistributionIndex()
    packages = {normalize_name(p) for p in packages}
    required: set[str] = set()
    for p in packages:
        required |= index.requires_recursive(p)
    return packages - (required - NEVER_PRUNED)


def modules_to_packages(modules: Iterable[str], index: DistributionIndex | None = None) -> set[str]:
    """Installed distributions (normalized names) providing the given top-level modules."""
    mapping = (index or DistributionIndex()).module_map()
    found: set[str] = set()
    for module in modules:
        dists = mapping.get(module)
        if dists:
            found.update(normalize_name(d) for d in dists)
        elif module in ("fluvial", "mlflow"):
            found.add(module)
    return found


def requirements_from_modules(modules: Iterable[str], index: DistributionIndex | None = None) -> list[str]:
    """Rules 2-5 of the module docstring: captured modules -> sorted pinned requirements."""
    index = index or DistributionIndex()
    # fluvial is always there when the model is served, so its own dependencies are pruned (rule 3)
    packages = prune_packages(modules_to_packages(modules, index) | {"fluvial"}, index) - _EXCLUDED
    if "pandas" in packages:
        version = installed_version("pandas") or ""
        if _version_key(version) < _version_key("2.1.2"):
            packages.add("numpy")
    return sorted(pinned_requirement(p) for p in packages)


# ---------------------------------------------------------------------------------------------------
# inference through a subprocess


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("true", "1", "yes")


def inference_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise InvalidParameterValue(f"{TIMEOUT_ENV} must be a number of seconds, got {raw!r}")


def infer_pip_requirements(
    model_dir: str,
    loader_check: list[str] | str | None = None,
    fallback: list[str] | None = None,
    timeout: float | None = None,
    extra_env_vars: dict[str, str] | None = None,
) -> list[str]:
    """Pip requirements of a saved model, from the modules a fresh interpreter imports while loading it
    (and predicting on its input example). See the module docstring for the rules.

    ``loader_check``: the loaders to call in the subprocess, as ``"module:function"`` strings called with
    the model directory (default ``fluvial.pyfunc:load_model``); the first one's result is used for the
    input-example prediction. A plain string (MLflow's ``flavor`` argument) means the default loader.
    ``fallback``: returned (with a logged warning) when inference fails, unless
    ``MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS=true``; when None, failures raise.
    ``timeout``: seconds for the subprocess (default ``MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT`` or 120).
    """
    if os.environ.get(IN_CAPTURE_ENV) == "true" and fallback is not None:
        return list(fallback)
    raise_on_error = _env_flag(RAISE_ERRORS_ENV)
    loaders = [DEFAULT_LOADER] if loader_check is None or isinstance(loader_check, str) else list(loader_check)
    timeout = inference_timeout() if timeout is None else timeout
    try:
        index = DistributionIndex()
        modules, errors = capture_imported_modules(model_dir, loaders, timeout, extra_env_vars, index)
        if errors:
            if raise_on_error:
                raise MlflowException(f"Encountered an error while capturing imported modules: {errors}")
            _logger.warning("%s", errors)
        return requirements_from_modules(modules, index)
    except Exception as exc:
        if raise_on_error or fallback is None:
            raise
        _logger.warning(
            "Could not infer pip requirements of the model at %s (%s); falling back to %s. "
            "Set logging level to DEBUG to see the full traceback.",
            model_dir, exc if len(str(exc)) < 2000 else str(exc)[-2000:], fallback,
        )
        _logger.debug("", exc_info=True)
        return list(fallback)


def _local_model_dir(model_dir: str) -> str:
    if os.path.isdir(model_dir):
        return os.path.abspath(model_dir)
    from fluvial._internal.uri import local_path, scheme_of

    if scheme_of(str(model_dir)) in ("", "file"):
        return os.path.abspath(local_path(str(model_dir)))
    from fluvial.artifacts import download_artifacts

    return download_artifacts(artifact_uri=str(model_dir))


_CHILD = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from fluvial.models.infer_requirements import _capture_main; _capture_main(sys.argv[2:])"
)


def capture_imported_modules(
    model_dir: str,
    loaders: list[str] | None = None,
    timeout: float | None = None,
    extra_env_vars: dict[str, str] | None = None,
    index: DistributionIndex | None = None,
) -> tuple[list[str], str]:
    """Run the capture subprocess; ``(top-level modules imported, predict error text or "")``.
    ``index``, when given, is warmed in a thread meanwhile."""
    result = run_capture(model_dir, loaders, timeout, extra_env_vars, index)
    return result["modules"], result.get("errors", "")


def run_capture(
    model_dir: str,
    loaders: list[str] | None = None,
    timeout: float | None = None,
    extra_env_vars: dict[str, str] | None = None,
    index: DistributionIndex | None = None,
) -> dict[str, Any]:
    """Load the model in a subprocess (and predict on its input example); ``{"modules": top-level
    modules imported, "files": {module: file} of the modules it added, "errors": predict error text}``."""
    model_dir = _local_model_dir(model_dir)
    timeout = inference_timeout() if timeout is None else timeout
    env = {**os.environ, IN_CAPTURE_ENV: "true", **(extra_env_vars or {})}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "captured.json")
        cmd = [sys.executable, "-c", _CHILD, json.dumps(sys.path), model_dir, out, json.dumps(loaders or [DEFAULT_LOADER])]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        warmer = threading.Thread(target=index.warm, daemon=True) if index is not None else None
        if warmer is not None:
            warmer.start()
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise MlflowException(
                f"Inferring pip requirements timed out after {timeout:g} seconds; set {TIMEOUT_ENV} "
                "to allow longer, or pass pip_requirements explicitly"
            ) from None
        finally:
            if warmer is not None:
                warmer.join()
        _logger.debug("requirement capture took %.2fs", time.perf_counter() - started)
        if proc.returncode != 0 or not os.path.exists(out):
            raise MlflowException(
                f"Loading the model in a subprocess to infer its requirements failed (exit status "
                f"{proc.returncode}):\n{stderr[-4000:]}"
            )
        with open(out) as f:
            result: dict[str, Any] = json.load(f)
    return result


# Importing these only probes optional extras (``from numpy import *`` loads numpy.f2py, which tries
# charset_normalizer): what they import is not a dependency of the model.
NOISE_IMPORTS = ("numpy.f2py",)


class _ImportRecorder:
    """Records top-level names of absolute imports (``import x``, ``importlib.import_module``) and of
    modules newly added to ``sys.modules`` while active, except what :data:`NOISE_IMPORTS` pull in."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._muted = 0
        self._noise: set[str] = set()

    def _record(self, name: Any) -> None:
        if not self._muted and isinstance(name, str) and name and not name.startswith("."):
            self.names.add(name.partition(".")[0])

    def _call(self, name: str, do: Any) -> Any:
        if not name.startswith(NOISE_IMPORTS) or name in sys.modules:
            return do()
        before = set(sys.modules)
        self._muted += 1
        try:
            return do()
        finally:
            self._muted -= 1
            self._noise |= set(sys.modules) - before

    def __enter__(self) -> _ImportRecorder:
        import builtins

        self._before = set(sys.modules)
        self._import, self._import_module = builtins.__import__, importlib.import_module
        original_import, original_import_module = self._import, self._import_module

        def hooked_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
            if level == 0:
                self._record(name)
            return self._call(name, lambda: original_import(name, globals, locals, fromlist, level))

        def hooked_import_module(name: str, package: str | None = None) -> Any:
            self._record(name)
            return self._call(name, lambda: original_import_module(name, package))

        builtins.__import__ = hooked_import
        importlib.import_module = hooked_import_module  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        import builtins

        builtins.__import__ = self._import
        importlib.import_module = self._import_module  # type: ignore[assignment]
        self.files: dict[str, str] = {}
        for name in set(sys.modules) - self._before - self._noise:
            self._record(name)
            file = getattr(sys.modules.get(name), "__file__", None)
            if isinstance(file, str):
                self.files[name] = file

    def top_level(self) -> list[str]:
        skip = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
        return sorted(n for n in self.names if not n.startswith("_") and n not in skip)


def _resolve_loader(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in (attr or "load_model").split("."):
        obj = getattr(obj, part)
    return obj


def _capture_main(argv: list[str]) -> None:
    """Entry point of the capture subprocess: ``<model_dir> <output json> <loaders json>``."""
    import traceback

    model_dir, output, loaders_json = argv
    loaders = [_resolve_loader(spec) for spec in json.loads(loaders_json)]
    errors = ""
    recorder = _ImportRecorder()
    with recorder:
        model: Any = None
        for load in loaders:
            loaded = load(model_dir)
            model = loaded if model is None else model
        try:
            example, params = _example_for(model_dir, model)
            if example is not None and hasattr(model, "predict"):
                if params is None:
                    model.predict(example)
                else:
                    model.predict(example, params=params)
        except Exception:
            errors = (
                "Failed to run predict on input_example, dependencies introduced in predict are not "
                "captured.\n" + traceback.format_exc()
            )
    with open(output, "w") as f:
        json.dump({"modules": recorder.top_level(), "files": recorder.files, "errors": errors}, f)


def _example_for(model_dir: str, model: Any) -> tuple[Any, Any]:
    mlmodel = os.path.join(model_dir, "MLmodel")
    if not os.path.exists(mlmodel):
        return None, None
    import yaml

    with open(mlmodel) as f:
        info = (yaml.safe_load(f) or {}).get("saved_input_example_info")
    if not info:
        return None, None
    from fluvial.models.input_example import load_input_example, load_input_example_params

    schema = None
    metadata = getattr(model, "metadata", None)
    if metadata is not None and hasattr(metadata, "get_input_schema"):
        schema = metadata.get_input_schema()
    return load_input_example(model_dir, info, schema=schema), load_input_example_params(model_dir, info)
