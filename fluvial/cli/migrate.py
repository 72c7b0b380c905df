"""``fluvial migrate-filestore``: import an MLflow file store (./mlruns) into a SQL tracking database."""

from __future__ import annotations

import click

from fluvial.cli._common import echo_progress


@click.command("migrate-filestore")
@click.option(
    "--source",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The MLflow file store: an ./mlruns directory, or a directory that contains mlruns/.",
)
@click.option(
    "--target",
    default="sqlite:///mlflow.db",
    show_default=True,
    help="Database URL to import into (sqlite, postgresql or mysql); created when missing.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Report each experiment on stderr.")
def migrate_filestore(source: str, target: str, progress: bool) -> None:
    """Import every experiment and run of an MLflow file store into a SQL database.

    Experiments (active and deleted) keep their names, tags, times and artifact locations; runs keep
    their ids, names, users, status, times, lifecycle stage, artifact URIs, params, tags, full metric
    histories and dataset inputs. The file store is only read, and artifacts stay where they are.
    Experiment ids that do not fit the database's INTEGER column get new ids (printed as a mapping).
    A database that already has an experiment of the same name is refused.
    """
    from fluvial.store.tracking.filestore_import import import_filestore

    report = import_filestore(source, target, echo_progress if progress else None)
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"Imported {len(report.experiments)} experiments and {report.total('runs')} runs "
        f"({report.total('params')} params, {report.total('tags')} tags, {report.total('metric_points')} metric "
        f"points, {report.total('datasets')} datasets, {report.total('inputs')} dataset inputs) "
        f"from {report.source} into {target}."
    )
    changed = [e for e in report.experiments if e.id_changed]
    if changed:
        click.echo("New experiment ids (the file store's ids do not fit the database's INTEGER column, or are taken):")
        width = max(len(e.source_id) for e in changed)
        for e in changed:
            stage = " (deleted)" if e.lifecycle_stage == "deleted" else ""
            click.echo(f"  {e.source_id.rjust(width)} -> {e.experiment_id}  {e.name}{stage}")
    click.echo(f"Artifacts were not copied; runs keep their artifact URIs (under {report.source}).")
