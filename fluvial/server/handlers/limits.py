"""Request limits and the artifact-location rule, shared by the handlers."""

from __future__ import annotations

import os
from typing import Any

from fluvial._internal.paths import validate_relative_path
from fluvial._internal.uri import is_file_uri, local_path, scheme_of
from fluvial._internal.validation import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH
from fluvial.exceptions import InvalidParameterValue, PermissionDenied
from fluvial.server.config import ServerConfig


def check_search_args(config: ServerConfig, filter_string: str | None, order_by: list[str]) -> None:
    if filter_string and len(filter_string) > config.max_filter_length:
        raise InvalidParameterValue(
            f"The filter string is {len(filter_string)} characters long; the limit is {config.max_filter_length}."
        )
    if len(order_by) > config.max_order_by_clauses:
        raise InvalidParameterValue(
            f"{len(order_by)} order_by clauses given; the limit is {config.max_order_by_clauses}."
        )
    for clause in order_by:
        if len(clause) > 1000:
            raise InvalidParameterValue("An order_by clause is longer than 1000 characters.")


def _under(location: str, root: str) -> bool:
    if is_file_uri(location) and is_file_uri(root):
        loc = os.path.realpath(local_path(location))
        base = os.path.realpath(local_path(root))
        return loc == base or loc.startswith(base.rstrip(os.sep) + os.sep)
    root = root.rstrip("/")
    return location == root or location.startswith(root + "/")


def check_artifact_location(config: ServerConfig, location: str | None) -> None:
    """An experiment's artifact location must lie under one of the server's artifact roots.

    MLflow lets a client point an experiment at any server directory and then write there; fluvial
    refuses unless the operator widened the rule (``--allowed-artifact-location``)."""
    if location is None:
        return
    if "*" in config.allowed_artifact_locations:
        return
    if "\x00" in location or "\\" in location:
        raise InvalidParameterValue(f"Invalid artifact location: {location!r}")
    roots = [config.artifact_root, *config.allowed_artifact_locations]
    if config.serve_artifacts:
        roots.append("mlflow-artifacts:/")
    if scheme_of(location) == "mlflow-artifacts":
        # this server's proxy only: no host part (clients would send their credentials there), and a
        # path that stays a path whatever the decoding (%2e%2e, double encoding, ...)
        rest = location.split(":", 1)[1]
        if rest.startswith("//"):
            raise InvalidParameterValue(
                f"Invalid artifact location: {location!r}. mlflow-artifacts: locations must not name a host."
            )
        validate_relative_path(rest.lstrip("/"))
    if not any(_under(location, root) for root in roots):
        raise PermissionDenied(
            f"Artifact location {location!r} is outside this server's artifact roots ({', '.join(roots)}). "
            "Omit artifact_location, or ask the operator to allow it with --allowed-artifact-location."
        )


# ---- request-wide limits, checked before any handler (adapter.call) --------------------------------
MAX_LISTED_IDS = 1000  # experiment ids / run ids one request may name
MAX_TAGS_PER_REQUEST = 1000
MAX_RESULTS_CAP = {
    "SearchRuns": 50_000, "SearchExperiments": 50_000, "SearchRegisteredModels": 1_000,
    "SearchModelVersions": 200_000, "SearchLoggedModels": 50_000, "GetMetricHistory": 1_000_000,
    "GetMetricHistoryBulk": 25_000, "ListAuditLog": 10_000,  # get-history-bulk-interval: its handler (1..2500)
}
_VALUE_LIMITS = {"LogParam": MAX_PARAM_VAL_LENGTH, "SetTag": MAX_TAG_VAL_LENGTH}


def check_request(name: str, req: dict[str, Any]) -> None:
    """Refuse requests over MLflow's value limits or naming absurd amounts of anything, whole, before
    anything is stored: long param/tag values (not truncated: the caller would not know), thousands of
    tags, thousands of experiments or runs, negative or huge ``max_results``."""
    max_results = req.get("max_results")
    if max_results is not None:
        cap = MAX_RESULTS_CAP.get(name, 50_000)
        if max_results < 0 or max_results > cap:
            raise InvalidParameterValue(f"Invalid value for parameter 'max_results': it must be between 0 and {cap}.")
    for field in ("experiment_ids", "run_ids", "run_id"):
        listed = req.get(field)
        if isinstance(listed, list) and len(listed) > MAX_LISTED_IDS:
            raise InvalidParameterValue(f"A request may name at most {MAX_LISTED_IDS} values in '{field}'.")
    tags = req.get("tags")
    if isinstance(tags, list) and len(tags) > MAX_TAGS_PER_REQUEST:
        raise InvalidParameterValue(f"A request may carry at most {MAX_TAGS_PER_REQUEST} tags.")
    limit = _VALUE_LIMITS.get(name)
    if limit is not None and len(req.get("value") or "") > limit:
        raise InvalidParameterValue(f"The value is longer than the limit of {limit} characters.")
    if name == "LogBatch":
        for field, limit in (("params", MAX_PARAM_VAL_LENGTH), ("tags", MAX_TAG_VAL_LENGTH)):
            if any(len(item.get("value") or "") > limit for item in req.get(field, [])):
                raise InvalidParameterValue(f"A value in '{field}' is longer than the limit of {limit} characters.")
