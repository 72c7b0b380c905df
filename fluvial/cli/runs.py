"""``fluvial runs``: list, describe, delete, restore and move runs."""

from __future__ import annotations

import datetime
import math
from typing import Any

import click

from fluvial.cli._common import echo_json, format_table, run_id_option, view_option


def _client() -> Any:
    from fluvial.tracking.client import MlflowClient

    return MlflowClient()


def _json_number(value: float) -> float | str:
    """Doubles as MLflow's REST JSON writes them: NaN and infinities become strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def run_to_json(run: Any) -> dict[str, Any]:
    """A run in the shape of the REST API's ``Run`` message (unset info fields left out), except that
    the metrics, params and tags lists are always present."""
    info = run.info
    info_json: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "experiment_id": info.experiment_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
    }
    data = run.data
    dataset_inputs = []
    for dataset_input in run.inputs.dataset_inputs:
        ds = dataset_input.dataset
        dataset = {"name": ds.name, "digest": ds.digest, "source_type": ds.source_type, "source": ds.source}
        if ds.schema is not None:
            dataset["schema"] = ds.schema
        if ds.profile is not None:
            dataset["profile"] = ds.profile
        dataset_inputs.append(
            {"tags": [{"key": t.key, "value": t.value} for t in dataset_input.tags], "dataset": dataset}
        )
    return {
        "info": {k: v for k, v in info_json.items() if v is not None},
        "data": {
            "metrics": [
                {"key": m.key, "value": _json_number(m.value), "timestamp": m.timestamp, "step": m.step}
                for m in data.metric_list
            ],
            "params": [{"key": p.key, "value": p.value} for p in data.param_list],
            "tags": [{"key": t.key, "value": t.value} for t in data.tag_list],
        },
        "inputs": {"dataset_inputs": dataset_inputs},
    }


def _date(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group("runs")
def commands() -> None:
    """Manage runs in the tracking store named by MLFLOW_TRACKING_URI."""


@commands.command("list")
@click.option(
    "--experiment-id",
    envvar="MLFLOW_EXPERIMENT_ID",
    required=True,
    help="The experiment whose runs to list (env: MLFLOW_EXPERIMENT_ID).",
)
@view_option("runs")
@click.option(
    "--filter-string",
    "filter_string",
    default=None,
    help="Only runs matching this search filter, e.g. \"metrics.rmse < 1\" (fluvial extension).",
)
def list_runs(experiment_id: str, view_type: int, filter_string: str | None) -> None:
    """List the runs of an experiment as a table of start date, name and id, newest first."""
    client = _client()
    client.get_experiment(experiment_id)  # a clear error for an unknown experiment
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string or "", view_type, 1000, None, token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    rows = sorted(
        ((r.info.start_time or 0, _date(r.info.start_time), r.info.run_name or "", r.info.run_id) for r in runs),
        reverse=True,
    )
    click.echo(format_table([row[1:] for row in rows], ["Date", "Name", "ID"]))


@commands.command()
@run_id_option()
def describe(run_id: str) -> None:
    """Print a run (info, data, inputs) as JSON."""
    echo_json(run_to_json(_client().get_run(run_id)))


@commands.command()
@run_id_option()
def delete(run_id: str) -> None:
    """Mark a run as deleted (``restore`` undoes it; ``gc`` makes it final)."""
    _client().delete_run(run_id)
    click.echo(f"Run with ID {run_id} has been deleted.")


@commands.command()
@run_id_option()
def restore(run_id: str) -> None:
    """Restore a deleted run."""
    _client().restore_run(run_id)
    click.echo(f"Run with id {run_id} has been restored.")


@commands.command()
@click.option("--run-id", "run_ids", multiple=True, required=True, help="A run to move (repeat for several).")
@click.option("--experiment-id", required=True, help="The active experiment to move the runs into.")
def move(run_ids: tuple[str, ...], experiment_id: str) -> None:
    """Move runs into another experiment of the same SQL tracking store (all or nothing). Only the
    runs' experiment changes; ids, data and artifact locations stay (docs/journal.md)."""
    from fluvial.cli._common import fail
    from fluvial.store.tracking.sql.move import move_runs
    from fluvial.tracking import _stores

    store = _stores.get_store()
    engine = getattr(store, "engine", None)
    if engine is None:
        fail(f"fluvial runs move works on a SQL tracking store; {_stores.get_tracking_uri()} is not one. Run it "
             "with MLFLOW_TRACKING_URI set to the server's --backend-store-uri")
        return
    for run_id, source in move_runs(engine, list(dict.fromkeys(run_ids)), experiment_id):
        click.echo(f"Run {run_id} moved from experiment {source} to experiment {experiment_id}.")
