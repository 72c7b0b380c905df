"""Request limits and the artifact-location rule, shared by the handlers."""

from __future__ import annotations

import os

from fluvial._internal.paths import validate_relative_path
from fluvial._internal.uri import is_file_uri, local_path, scheme_of
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
