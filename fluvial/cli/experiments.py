"""``fluvial experiments``: create, search, rename, delete, restore and export experiments."""

from __future__ import annotations

from typing import Any

import click

from fluvial.cli._common import experiment_id_option, format_table, view_option


def _client() -> Any:
    from fluvial.tracking.client import MlflowClient

    return MlflowClient()


def _id_key(experiment_id: str) -> tuple[int, str]:
    return (int(experiment_id), "") if experiment_id.isdigit() else (2**63, experiment_id)


@click.group("experiments")
def commands() -> None:
    """Manage experiments in the tracking store named by MLFLOW_TRACKING_URI."""


@commands.command()
@click.option("-n", "--experiment-name", required=True, help="Name of the new experiment (must be unused).")
@click.option(
    "-l",
    "--artifact-location",
    default=None,
    help="Base location for the artifacts of the experiment's runs ($artifact_location/$run_id/artifacts). "
    "Default: <default artifact root>/<experiment id>.",
)
def create(experiment_name: str, artifact_location: str | None) -> None:
    """Create an experiment and print its id."""
    from fluvial._internal.uri import resolve_local

    location = resolve_local(artifact_location) if artifact_location else None
    experiment_id = _client().create_experiment(experiment_name, location)
    click.echo(f"Created experiment '{experiment_name}' with id {experiment_id}")


@commands.command()
@view_option("experiments")
@click.option(
    "--filter-string",
    "filter_string",
    default=None,
    help="Only experiments matching this search filter, e.g. \"name LIKE 'churn%'\" (fluvial extension).",
)
@click.option(
    "--max-results", type=click.IntRange(min=1), default=None, help="Show at most this many experiments."
)
def search(view_type: int, filter_string: str | None, max_results: int | None) -> None:
    """List experiments as a table of id, name and artifact location."""
    client = _client()
    found: list[Any] = []
    token = None
    while max_results is None or len(found) < max_results:
        page_size = 1000 if max_results is None else min(1000, max_results - len(found))
        page = client.search_experiments(view_type, page_size, filter_string, None, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    rows = sorted(((e.experiment_id, e.name, e.artifact_location) for e in found), key=lambda r: _id_key(r[0]))
    click.echo(format_table(rows, ["Experiment Id", "Name", "Artifact Location"]))


@commands.command()
@experiment_id_option()
def delete(experiment_id: str) -> None:
    """Mark an active experiment and its runs as deleted (``restore`` undoes it; ``gc`` makes it final)."""
    _client().delete_experiment(experiment_id)
    click.echo(f"Experiment with ID {experiment_id} has been deleted.")


@commands.command()
@experiment_id_option()
def restore(experiment_id: str) -> None:
    """Restore a deleted experiment and its runs."""
    _client().restore_experiment(experiment_id)
    click.echo(f"Experiment with id {experiment_id} has been restored.")


@commands.command()
@experiment_id_option()
@click.option("--new-name", required=True, help="The new name (must be unused).")
def rename(experiment_id: str, new_name: str) -> None:
    """Rename an active experiment."""
    _client().rename_experiment(experiment_id, new_name)
    click.echo(f"Experiment with id {experiment_id} has been renamed to '{new_name}'.")


@commands.command()
@experiment_id_option()
@click.option("-o", "--filename", default=None, help="Write the CSV to this file instead of stdout.")
def csv(experiment_id: str, filename: str | None) -> None:
    """Write all active runs of an experiment as CSV (the columns of ``search_runs``' DataFrame)."""
    from fluvial.tracking import fluent

    _client().get_experiment(experiment_id)  # a clear error for an unknown experiment
    frame = fluent.search_runs(experiment_ids=[experiment_id])
    if filename:
        frame.to_csv(filename, index=False)
        click.echo(f"Experiment with ID {experiment_id} has been exported as a CSV to file: {filename}.")
    else:
        click.echo(frame.to_csv(index=False), nl=False)
