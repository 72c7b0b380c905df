"""From what a request names to the resources whose grants decide it: the run's experiment, the
experiment whose directory holds an artifact path, the logged model's experiment, the model version's
source. Each answer is what the handler will actually touch, never a guess from the raw text, and
anything that resolves to nothing known is for admins only (``ADMIN_ONLY``).

Lookups of immutable facts (a run's experiment and artifact location, an experiment's artifact
location, a logged model's experiment) are cached per worker."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from fluvial._internal.paths import validate_relative_path
from fluvial.exceptions import MlflowException, PermissionDenied, ResourceDoesNotExist
from fluvial.server.config import Stores

Resource = tuple[str, str]  # ("experiment", id) | ("model", name) | ADMIN_ONLY
ADMIN_ONLY: Resource = ("admin", "")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_CACHE_SIZE = 20_000


class _Lru:
    """A bounded map, least recently used out first; shared by a worker's request threads, so every
    operation holds the lock (a get's move_to_end could otherwise meet another thread's eviction)."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.data: OrderedDict[str, Any] = OrderedDict()
        self.size = size
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)


def proxied_rel(uri: str | None) -> str | None:
    """The path under the artifacts destination of an ``mlflow-artifacts:`` (or proxied http) URI."""
    if not uri:
        return None
    if uri.startswith("mlflow-artifacts:"):
        tail = uri.split(":", 1)[1]
        if tail.startswith("//"):
            tail = "/" + tail[2:].partition("/")[2]
    elif uri.startswith(("http://", "https://")) and "/mlflow-artifacts/artifacts" in uri:
        tail = uri.split("/mlflow-artifacts/artifacts", 1)[1]
    else:
        return None
    try:
        return validate_relative_path(tail.lstrip("/"))
    except MlflowException:
        return None


class Resolver:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.runs = _Lru()  # run_id -> (experiment_id, artifact uri)
        self.experiments = _Lru()  # experiment_id -> artifact location ("" when unknown)
        self.logged_models = _Lru()  # model_id -> (experiment_id, artifact location)
        self.run_owners = _Lru()  # run_id -> run_resources(run_id)

    def run(self, run_id: Any) -> tuple[str, str]:
        """(experiment id, artifact uri) of a run; 404 when there is no such run."""
        if not isinstance(run_id, str) or not run_id:
            raise ResourceDoesNotExist("Run not found.")
        found = self.runs.get(run_id)
        if found is None:
            try:
                info = self.stores.tracking.get_run(run_id).info
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    raise ResourceDoesNotExist("Run not found.") from None
                raise
            found = (str(info.experiment_id), info.artifact_uri or "")
            self.runs.put(run_id, found)
        return found  # type: ignore[no-any-return]

    def experiment_location(self, experiment_id: str) -> str:
        found = self.experiments.get(experiment_id)
        if found is None:
            try:
                found = self.stores.tracking.get_experiment(experiment_id).artifact_location or ""
            except MlflowException:
                return ""  # not cached: it may be created later
            self.experiments.put(experiment_id, found)
        return found  # type: ignore[no-any-return]

    def logged_model(self, model_id: Any) -> tuple[str, str]:
        if not isinstance(model_id, str) or not model_id:
            raise ResourceDoesNotExist("Logged model not found.")
        found = self.logged_models.get(model_id)
        if found is None:
            from fluvial.server.handlers.logged_models import model_store

            try:
                model = model_store(self.stores).get(model_id, True)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    raise ResourceDoesNotExist("Logged model not found.") from None
                raise
            found = (str(model.experiment_id), model.artifact_location or "")
            self.logged_models.put(model_id, found)
        return found  # type: ignore[no-any-return]

    def experiment_by_name(self, name: Any) -> Resource | None:
        if not isinstance(name, str):
            return None
        experiment = self.stores.tracking.get_experiment_by_name(name)
        return ("experiment", str(experiment.experiment_id)) if experiment is not None else None

    def artifact_path(self, raw: Any) -> Resource:
        """The experiment owning a proxied artifact path, normalised exactly as the proxy handler does.

        The outermost ``<run_id>/artifacts`` whose run really keeps its artifacts at that place decides;
        else a leading experiment id whose experiment keeps its artifacts at ``<id>``; else admins only
        (the destination root, other experiments' custom locations, anything unknown)."""
        rel = validate_relative_path(raw if isinstance(raw, str) else None)
        parts = rel.split("/") if rel else []
        for i in range(len(parts) - 1):
            if parts[i + 1] == "artifacts" and _RUN_ID.match(parts[i]):
                try:
                    experiment_id, uri = self.run(parts[i])
                except ResourceDoesNotExist:
                    continue
                if proxied_rel(uri) == "/".join(parts[:i + 2]):
                    return ("experiment", experiment_id)
        if parts and parts[0].isdigit() and proxied_rel(self.experiment_location(parts[0])) == parts[0]:
            return ("experiment", parts[0])
        for i in range(len(parts) - 2):  # logged models: <exp>/models/<m-id>/artifacts
            if parts[i + 1] == "models" and parts[i + 2].startswith("m-"):
                try:
                    experiment_id, location = self.logged_model(parts[i + 2])
                except ResourceDoesNotExist:
                    break
                if rel.startswith(proxied_rel(location) or "\0"):
                    return ("experiment", experiment_id)
        return ADMIN_ONLY

    def run_resources(self, run_id: Any) -> list[Resource]:
        """A run's experiment, plus the owner of its artifact directory when that is proxied elsewhere."""
        found = self.run_owners.get(run_id) if isinstance(run_id, str) else None
        if found is not None:
            return list(found)
        experiment_id, uri = self.run(run_id)
        out: list[Resource] = [("experiment", experiment_id)]
        rel = proxied_rel(uri)
        if rel is not None:
            owner = self.artifact_path(rel)
            if owner != out[0]:
                out.append(owner)
        if all(kind == "experiment" for kind, _ in out):  # facts that never change; not "admin only"
            self.run_owners.put(run_id, tuple(out))
        return out

    def source(self, req: dict[str, Any]) -> list[Resource]:
        """What registering a model version from ``source`` (and ``run_id``/``model_id``) reads."""
        source = req.get("source") or ""
        out: list[Resource] = []
        run_id, model_id = req.get("run_id"), req.get("model_id")
        if run_id:
            out += self.run_resources(run_id)
        if model_id:
            out.append(("experiment", self.logged_model(model_id)[0]))
        if not isinstance(source, str):
            raise PermissionDenied("The model version's source is not readable by the caller.")
        if source.startswith("runs:/"):
            out += self.run_resources(source[len("runs:/"):].split("/", 1)[0])
        elif source.startswith("models:/"):
            head = source[len("models:/"):].split("/", 1)[0]
            out.append(("experiment", self.logged_model(head)[0]) if head.startswith("m-") else ("model", head))
        elif (rel := proxied_rel(source)) is not None:
            out.append(self.artifact_path(rel))
        elif run_id and source.startswith(self.run(run_id)[1].rstrip("/") + "/") and ".." not in source:
            pass  # inside the run's own artifact location, already checked
        else:
            out.append(ADMIN_ONLY)
        return out
