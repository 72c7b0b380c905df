"""What a route needs from its caller: the permission vocabulary every route of the server declares.

Each route (every wire endpoint and every other route the server builds) carries one ``Access``: the
level it needs and which resource the level applies to, named by where the handler finds it (a request
field, a path parameter). With ``--app-name basic-auth`` the server checks it before the handler runs;
a route without a declaration stops the server from starting, auth or not (fail-closed by construction).

Levels (MLflow's, section 4 of the auth reference): ``read`` < ``edit`` (update) < ``manage`` (delete,
restore, grant). Resource kinds and how each is resolved:

- ``experiment``: an experiment id in a field (default ``experiment_id``)
- ``experiment_name``: an experiment looked up by name (``experiment_name``)
- ``experiments``: a repeated field of experiment ids; every one must pass
- ``run``: a run id (``run_id``, falling back to ``run_uuid``) -> the run's experiment
- ``runs``: a repeated field of run ids; every run's experiment must pass
- ``logged_model``: a logged model id (``model_id``) -> its experiment
- ``model``: a registered model name (``name``); model versions, their tags and aliases use it too
- ``artifact_path``: a proxied artifact path (``<experiment_id>/<run_id>/...``, normalised as the handler
  normalises it) -> that experiment; paths that name no experiment need an admin
- ``model_version_source``: registering a version: edit on the model (``name``) and read on whatever
  ``source``/``run_id``/``model_id`` point at
- ``typed``: MLflow 3's per-user permission API: ``resource_type`` (``experiment`` or
  ``registered_model``, see ``TYPED``) and ``resource_id``

Besides the levels: ``PUBLIC`` (no credentials: ``/health``, the login page), ``USER`` (any
authenticated user; searches are then filtered or their experiments checked) and ``ADMIN``.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("read", "edit", "manage")
RESOURCES = {
    "experiment": "experiment_id",
    "experiment_name": "experiment_name",
    "experiments": "experiment_ids",
    "run": "run_id",
    "runs": "run_ids",
    "logged_model": "model_id",
    "model": "name",
    "artifact_path": "path",
    "model_version_source": "name",
    "typed": "resource_id",
}
# MLflow 3's resource_type names -> the grant kinds fluvial keeps (MLflow 2.x's two tables)
TYPED = {"experiment": "experiment", "registered_model": "model"}
# results filtered to what the caller may read, by the item field that names the resource
FILTERS = {"experiments": "experiment_id", "registered_models": "name", "model_versions": "name"}


@dataclass(frozen=True)
class Access:
    level: str  # "public" | "user" | "admin" | "self" | one of LEVELS
    resource: str | None = None  # a key of RESOURCES when level is in LEVELS
    field: str | None = None  # where the request carries the resource
    filter: str | None = None  # a key of FILTERS: the response list filtered per item

    def __post_init__(self) -> None:
        if self.level in LEVELS:
            if self.resource not in RESOURCES:
                raise ValueError(f"unknown resource kind {self.resource!r}")
            if self.field is None:
                object.__setattr__(self, "field", RESOURCES[self.resource])
        elif self.level not in ("public", "user", "admin", "self") or self.resource is not None:
            raise ValueError(f"invalid access declaration {self!r}")
        if self.filter is not None and self.filter not in FILTERS:
            raise ValueError(f"unknown filter {self.filter!r}")

    def __str__(self) -> str:
        if self.resource is None:
            return self.level + (f" (filtered {self.filter})" if self.filter else "")
        return f"{self.level} {self.resource}[{self.field}]"


def read(resource: str, field: str | None = None) -> Access:
    return Access("read", resource, field)


def edit(resource: str, field: str | None = None) -> Access:
    return Access("edit", resource, field)


def manage(resource: str, field: str | None = None) -> Access:
    return Access("manage", resource, field)


def filtered(kind: str) -> Access:
    """Any authenticated user; the response's ``kind`` list holds only what the caller may read."""
    return Access("user", filter=kind)


PUBLIC = Access("public")
USER = Access("user")
ADMIN = Access("admin")
SELF = Access("self")  # the ``username`` field must be the caller (or the caller an admin)

READ_EXPERIMENT, EDIT_EXPERIMENT, MANAGE_EXPERIMENT = read("experiment"), edit("experiment"), manage("experiment")
READ_RUN, EDIT_RUN, MANAGE_RUN = read("run"), edit("run"), manage("run")
READ_MODEL, EDIT_MODEL, MANAGE_MODEL = read("model"), edit("model"), manage("model")
READ_LOGGED_MODEL, EDIT_LOGGED_MODEL = read("logged_model"), edit("logged_model")
MANAGE_LOGGED_MODEL = manage("logged_model")
READ_EXPERIMENTS = read("experiments")
