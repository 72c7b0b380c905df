"""``fluvial gc``: permanently delete deleted runs and experiments, and their local artifacts.

Everything is checked before anything is deleted: an unknown id, an active run or experiment, one
that was deleted too recently for ``--older-than``, or a malformed ``--older-than`` changes nothing.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import click

from fluvial.cli._common import comma_list

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(
    rf"^(?:(?P<days>{_NUMBER})d)?(?:(?P<hours>{_NUMBER})h)?(?:(?P<minutes>{_NUMBER})m)?(?:(?P<seconds>{_NUMBER})s)?$"
)
_PROXY_PATH = "/api/2.0/mlflow-artifacts/artifacts"
DEFAULT_ARTIFACTS_DESTINATION = "./mlartifacts"


def parse_duration_ms(text: str) -> int:
    """``"1d2h3m4s"`` (any part optional, floats allowed: ``"1.5d"``) -> milliseconds."""
    from fluvial.exceptions import InvalidParameterValue

    match = _DURATION.match(text.strip())
    parts = {k: float(v) for k, v in match.groupdict().items() if v} if match else {}
    if not parts:
        raise InvalidParameterValue(
            f"Could not parse any time information from '{text}'. "
            "Examples of valid strings: '8h', '2d8h5m20s', '2m4s', '1.5d'"
        )
    try:
        return int(datetime.timedelta(**parts).total_seconds() * 1000)
    except OverflowError:
        raise InvalidParameterValue(f"--older-than {text!r} is too large") from None


@dataclass
class GcPlan:
    runs: list[Any] = field(default_factory=list)  # deleted runs to remove on their own
    experiments: list[tuple[Any, list[Any]]] = field(default_factory=list)  # (experiment, all its runs)


def _all_pages(fetch: Any) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        page = fetch(token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def plan_gc(
    store: Any, older_than_ms: int | None, older_than: str | None, run_ids: list[str], experiment_ids: list[str]
) -> GcPlan:
    """What ``gc`` will delete; raises (changing nothing) when an argument names something it must not delete.

    With neither ids given: every deleted run and every deleted experiment (deleted longer ago than
    ``older_than_ms`` when set). With ids: exactly those runs and experiments.
    """
    from fluvial._internal.clock import now_ms
    from fluvial.entities import LifecycleStage, ViewType
    from fluvial.exceptions import InvalidParameterValue

    threshold = now_ms() - (older_than_ms or 0)
    old_enough = set(store.deleted_run_ids(older_than_ms or None))
    plan = GcPlan()
    if run_ids:
        for run_id in dict.fromkeys(run_ids):
            run = store.get_run(run_id)
            if run.info.lifecycle_stage != LifecycleStage.DELETED:
                raise InvalidParameterValue(
                    f"Run {run_id} is not in the deleted lifecycle stage; only deleted runs can be permanently "
                    f"deleted (delete it first with: fluvial runs delete --run-id {run_id})."
                )
            if older_than_ms and run_id not in old_enough:
                raise InvalidParameterValue(
                    f"Run {run_id} was deleted less than {older_than} ago; only runs deleted longer ago than "
                    "--older-than can be permanently deleted."
                )
            plan.runs.append(run)
    elif not experiment_ids:
        plan.runs = [store.get_run(run_id) for run_id in sorted(old_enough)]

    if experiment_ids:
        experiments = [store.get_experiment(eid) for eid in dict.fromkeys(experiment_ids)]
        active = [e.experiment_id for e in experiments if e.lifecycle_stage != LifecycleStage.DELETED]
        if active:
            raise InvalidParameterValue(
                f"Experiments {active} are not in the deleted lifecycle stage; only deleted experiments can be "
                "permanently deleted (delete them first with: fluvial experiments delete -x <id>)."
            )
        if older_than_ms:
            recent = [e.experiment_id for e in experiments if e.last_update_time is None or e.last_update_time >= threshold]
            if recent:
                raise InvalidParameterValue(
                    f"Experiments {recent} were deleted less than {older_than} ago; only experiments deleted "
                    "longer ago than --older-than can be permanently deleted."
                )
    elif not run_ids:
        experiments = _all_pages(
            lambda token: store.search_experiments(ViewType.DELETED_ONLY, 1000, None, None, token)
        )
        if older_than_ms:
            experiments = [e for e in experiments if e.last_update_time is not None and e.last_update_time < threshold]
    else:
        experiments = []

    planned_runs = {r.info.run_id for r in plan.runs}
    for experiment in experiments:
        eid = experiment.experiment_id
        runs = _all_pages(lambda token, eid=eid: store.search_runs([eid], "", ViewType.ALL, 1000, None, token))
        plan.experiments.append((experiment, [r for r in runs if r.info.run_id not in planned_runs]))
    return plan


def open_existing_store(uri: str) -> Any:
    """The tracking store at ``uri``, refusing to create one: gc on a mistyped location must not leave
    an empty database (or a database inside an MLflow file store) behind."""
    from fluvial._internal.uri import is_file_uri, local_path, scheme_of
    from fluvial.exceptions import InvalidParameterValue
    from fluvial.tracking import _stores

    if is_file_uri(uri):
        directory = os.path.abspath(local_path(uri))
        database = os.path.join(directory, _stores.LOCAL_DIR_DB_NAME)
        if not os.path.isfile(database):
            hint = ""
            if os.path.isfile(os.path.join(directory, "0", "meta.yaml")):
                hint = (
                    f" {directory} holds an MLflow file store; import it first with: fluvial migrate-filestore "
                    f"--source {directory} --target sqlite:///{database}"
                )
            raise InvalidParameterValue(f"No tracking database at {database}.{hint}")
    elif scheme_of(uri) == "sqlite":
        path = uri.split(":///", 1)[-1].split("?", 1)[0] if ":///" in uri else ""
        if path and path != ":memory:" and not path.startswith("file:") and not os.path.isfile(path):
            raise InvalidParameterValue(f"No tracking database at {os.path.abspath(path)}")
    return _stores.get_store(uri)


def _local_artifact_dir(artifact_uri: str, artifacts_destination: str | None) -> str | None:
    """The local directory behind a run's artifact URI, or None when it is not on this machine."""
    from fluvial._internal.uri import is_local_path, local_path, scheme_of

    scheme = scheme_of(artifact_uri)
    if scheme in ("", "file"):
        return os.path.abspath(local_path(artifact_uri))
    parsed = urlparse(artifact_uri)
    if scheme == "mlflow-artifacts":
        rel = parsed.path
    elif scheme in ("http", "https") and _PROXY_PATH in parsed.path:
        rel = parsed.path.split(_PROXY_PATH, 1)[1]
    else:
        return None
    destination = artifacts_destination or os.environ.get("MLFLOW_ARTIFACTS_DESTINATION") or DEFAULT_ARTIFACTS_DESTINATION
    if not (is_local_path(destination) or scheme_of(destination) == "file"):
        return None
    return os.path.join(os.path.abspath(local_path(destination)), *[p for p in rel.split("/") if p])


def delete_run_artifacts(run: Any, artifacts_destination: str | None) -> str | None:
    """Remove a run's local artifact directory; a warning when something was left in place."""
    run_id, uri = run.info.run_id, run.info.artifact_uri
    if not uri:
        return None
    directory = _local_artifact_dir(uri, artifacts_destination)
    if directory is None:
        return f"artifacts of run {run_id} at {uri} were not deleted: fluvial gc only removes local artifacts"
    if run_id not in directory.split(os.sep):
        return f"artifacts of run {run_id} at {uri} were not deleted: the path does not contain the run id"
    try:
        if os.path.isdir(directory) and not os.path.islink(directory):
            shutil.rmtree(directory)
        elif os.path.lexists(directory):
            os.remove(directory)
        parent = os.path.dirname(directory)
        if os.path.basename(parent) == run_id and os.path.isdir(parent) and not os.listdir(parent):
            os.rmdir(parent)
    except OSError as exc:
        return f"artifacts of run {run_id} at {directory} could not be deleted: {exc.strerror or exc}"
    return None


def _remove_empty_dir(location: str, artifacts_destination: str | None) -> None:
    directory = _local_artifact_dir(location, artifacts_destination) if location else None
    if directory and os.path.isdir(directory) and not os.listdir(directory):
        try:
            os.rmdir(directory)
        except OSError:
            pass


@click.command()
@click.option(
    "--older-than",
    default=None,
    help="Only runs and experiments deleted longer ago than this, as #d#h#m#s (floats allowed): "
    "e.g. 1d2h3m4s, 1.5d, 12h.",
)
@click.option(
    "--backend-store-uri",
    default=None,
    metavar="PATH",
    help="Tracking store to clean up: a database URL (sqlite:///mlflow.db) or a tracking directory. "
    "Default: the current tracking URI (MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).",
)
@click.option(
    "--artifacts-destination",
    envvar="MLFLOW_ARTIFACTS_DESTINATION",
    default=None,
    metavar="URI",
    help="Where a tracking server stores proxied artifacts (its --artifacts-destination), used to find the "
    "files of runs whose artifact URI is mlflow-artifacts:/... Default: ./mlartifacts.",
)
@click.option("--run-ids", default=None, help="Comma-separated ids of deleted runs to remove (default: all deleted runs).")
@click.option(
    "--experiment-ids",
    default=None,
    help="Comma-separated ids of deleted experiments to remove with all their runs "
    "(default: all deleted experiments, unless --run-ids is given).",
)
def gc(
    older_than: str | None,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    run_ids: str | None,
    experiment_ids: str | None,
) -> None:
    """Permanently delete runs and experiments in the `deleted` lifecycle stage, with their local artifacts."""
    from fluvial.tracking import _stores

    older_than_ms = parse_duration_ms(older_than) if older_than is not None else None
    store = open_existing_store(backend_store_uri or _stores.get_tracking_uri())
    plan = plan_gc(store, older_than_ms, older_than, comma_list(run_ids), comma_list(experiment_ids))

    def remove_run(run: Any, hard_delete: bool) -> None:
        warning = delete_run_artifacts(run, artifacts_destination)
        if warning:
            click.echo(f"Warning: {warning}", err=True)
        if hard_delete:
            store.hard_delete_run(run.info.run_id)
        click.echo(f"Run with ID {run.info.run_id} has been permanently deleted.")

    for run in plan.runs:
        remove_run(run, hard_delete=True)
    for experiment, runs in plan.experiments:
        for run in runs:
            remove_run(run, hard_delete=False)  # the experiment's hard delete removes its runs in one go
        store.hard_delete_experiment(experiment.experiment_id)
        _remove_empty_dir(experiment.artifact_location, artifacts_destination)
        click.echo(f"Experiment with ID {experiment.experiment_id} has been permanently deleted.")
