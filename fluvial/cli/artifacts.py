"""``fluvial artifacts``: list, download and upload run artifacts."""

from __future__ import annotations

from typing import Any

import click

from fluvial.cli._common import artifact_path_option, echo_json, run_id_option


def _client() -> Any:
    from fluvial.tracking.client import MlflowClient

    return MlflowClient()


def _file_info_json(info: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
    if not info.is_dir and info.file_size is not None:
        entry["file_size"] = info.file_size
    return entry


@click.group("artifacts")
def commands() -> None:
    """Upload, list and download the artifacts of runs in the tracking store named by MLFLOW_TRACKING_URI."""


@commands.command("list")
@run_id_option("-r", "--run-id", help="Run whose artifacts to list.")
@artifact_path_option("A directory relative to the run's artifact root to list (default: the root).")
def list_artifacts(run_id: str, artifact_path: str | None) -> None:
    """Print the entries directly under the run's artifact root (or a sub-directory) as a JSON list."""
    echo_json([_file_info_json(i) for i in _client().list_artifacts(run_id, artifact_path or None)])


@commands.command("download")
@run_id_option("-r", "--run-id", help="Run to download from.", required=False)
@artifact_path_option("With --run-id: a file or directory relative to the run's artifact root (default: all).")
@click.option(
    "-u",
    "--artifact-uri",
    default=None,
    help="URI of an artifact file or directory (e.g. runs:/<run_id>/model); instead of --run-id.",
)
@click.option(
    "-d",
    "--dst-path",
    default=None,
    help="Local directory to download into (created if missing). Default: a new temporary directory.",
)
def download(run_id: str | None, artifact_path: str | None, artifact_uri: str | None, dst_path: str | None) -> None:
    """Download an artifact file or directory and print its local path."""
    from fluvial import artifacts

    if artifact_uri is not None:
        if run_id is not None or artifact_path is not None:
            click.echo("Warning: --artifact-uri is given; ignoring --run-id and --artifact-path.", err=True)
        local = artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=dst_path)
    elif run_id is not None:
        local = artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=dst_path)
    else:
        raise click.UsageError("Either --run-id or --artifact-uri must be given.")
    click.echo(local)


@commands.command("log-artifact")
@click.option("-l", "--local-file", required=True, help="Local file to log.")
@run_id_option("-r", "--run-id", help="Run to log the file to.")
@artifact_path_option("Directory under the run's artifact root to put the file in (default: the root).")
def log_artifact(local_file: str, run_id: str, artifact_path: str | None) -> None:
    """Log a local file as an artifact of a run."""
    import os

    from fluvial.exceptions import InvalidParameterValue

    if not os.path.isfile(local_file):
        raise InvalidParameterValue(f"No such file to log as an artifact: {local_file!r}")
    _client().log_artifact(run_id, local_file, artifact_path)
    click.echo(f"Logged artifact from local file {local_file} to artifact_path={artifact_path}", err=True)


@commands.command("log-artifacts")
@click.option("-l", "--local-dir", required=True, help="Local directory whose contents to log.")
@run_id_option("-r", "--run-id", help="Run to log the files to.")
@artifact_path_option("Directory under the run's artifact root to put the files in (default: the root).")
def log_artifacts(local_dir: str, run_id: str, artifact_path: str | None) -> None:
    """Log the files of a local directory (recursively) as artifacts of a run."""
    _client().log_artifacts(run_id, local_dir, artifact_path)
    click.echo(f"Logged artifact from local dir {local_dir} to artifact_path={artifact_path}", err=True)
