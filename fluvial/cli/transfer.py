"""``fluvial export DIR`` and ``fluvial import DIR``: move experiments, runs and registered models between
tracking URIs (SQL store or MLflow-API server) through a portable directory (docs/journal.md)."""

from __future__ import annotations

import os
import socket
import urllib.parse
from typing import TYPE_CHECKING

import click

from fluvial.cli._common import echo_progress, fail

if TYPE_CHECKING:
    from fluvial.tracking.client import MlflowClient

_URI_HELP = "Tracking URI to {} (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."


def _client(uri: str | None) -> MlflowClient:
    from fluvial.tracking.client import MlflowClient

    client = MlflowClient(uri) if uri else MlflowClient()
    parsed = urllib.parse.urlsplit(client.tracking_uri)
    if parsed.scheme in ("http", "https"):  # fail in seconds, not after the REST client's retries
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname or "localhost", port), timeout=10).close()
        except OSError as exc:
            fail(f"cannot reach the tracking server at {client.tracking_uri} ({exc}); start the server or pass "
                 "--tracking-uri / set MLFLOW_TRACKING_URI to a reachable one")
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        from fluvial.cli._common import one_line

        fail(f"cannot use the tracking URI {client.tracking_uri} ({one_line(str(exc))[:300]}); start the "
             "server or pass --tracking-uri / set MLFLOW_TRACKING_URI to a reachable one")
    return client


@click.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--experiment-id", "experiment_ids", multiple=True,
              help="Export only this experiment (repeatable; default: all experiments, active and deleted).")
@click.option("--tracking-uri", default=None, help=_URI_HELP.format("export from"))
def export_cmd(directory: str, experiment_ids: tuple[str, ...], tracking_uri: str | None) -> None:
    """Write experiments, runs (params, tags, datasets, metric histories, artifacts) and all registered
    models into DIRECTORY. Run it again after an interruption: finished runs are skipped."""
    from fluvial.tracking.transfer.export import export

    if os.path.exists(directory) and not os.path.isdir(directory):
        fail(f"{directory} is a file; pass a directory to export into")
    client = _client(tracking_uri)
    echo_progress(f"Exporting {client.tracking_uri} into {directory}")
    counts = export(client, directory, list(experiment_ids) or None, echo_progress)
    echo_progress(f"Done: {counts['experiments']} experiments, {counts['runs']} runs exported, "
                  f"{counts['skipped']} already exported, {counts['registered_models']} registered models")


@click.command("import")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--tracking-uri", default=None, help=_URI_HELP.format("import into"))
@click.option("--experiment-name-prefix", default="", help="Prefix for the names of the imported experiments.")
def import_cmd(directory: str, tracking_uri: str | None, experiment_name_prefix: str) -> None:
    """Load DIRECTORY (written by fluvial export) into the tracking URI. Runs keep their ids on a SQL store
    target and get new ones on a server; the old -> new mapping is written to DIRECTORY/import-mapping.json,
    and importing again skips what is done."""
    from fluvial.tracking.transfer.format import read_manifest
    from fluvial.tracking.transfer.importer import Importer

    read_manifest(directory)  # a bad directory fails before the target is contacted
    client = _client(tracking_uri)
    echo_progress(f"Importing {directory} into {client.tracking_uri}")
    counts = Importer(client, directory, experiment_name_prefix, echo_progress).run()
    echo_progress(f"Done: {counts['experiments']} experiments, {counts['runs']} runs imported, "
                  f"{counts['skipped']} already imported, {counts['model_versions']} model versions")
