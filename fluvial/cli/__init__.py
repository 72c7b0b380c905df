"""The ``fluvial`` command line (MLflow 2.22.5's ``mlflow`` commands and options).

The root group only knows each subcommand as a ``"module:attr"`` string; a command's module is
imported when that command is looked up, and heavy packages (SQLAlchemy, pandas) only inside the
command functions that need them. Errors become exit codes in ``_common.LazyGroup.main``.
"""

from __future__ import annotations

import click

from fluvial.cli._common import LazyGroup
from fluvial.version import VERSION

# command name -> "module:attr" of its click command or group
COMMANDS: dict[str, str] = {
    "artifacts": "fluvial.cli.artifacts:commands",
    "db": "fluvial.cli.db:commands",
    "experiments": "fluvial.cli.experiments:commands",
    "export": "fluvial.cli.transfer:export_cmd",
    "gc": "fluvial.cli.gc:gc",
    "import": "fluvial.cli.transfer:import_cmd",
    "migrate-filestore": "fluvial.cli.migrate:migrate_filestore",
    "models": "fluvial.cli.models:commands",
    "recipes": "fluvial.cli.recipes:commands",
    "run": "fluvial.cli.run:run",
    "runs": "fluvial.cli.runs:commands",
    "server": "fluvial.cli.server:server",
    "sync": "fluvial.cli.sync:sync",
    "ui": "fluvial.cli.server:ui",
    "users": "fluvial.cli.users:commands",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(VERSION, "--version", prog_name="fluvial", message="%(prog)s, version %(version)s")
def main() -> None:
    """fluvial: an MLflow 2.x compatible ML lifecycle platform.

    Commands act on the tracking store named by MLFLOW_TRACKING_URI (default: sqlite:///mlflow.db
    in the working directory).
    """


__all__ = ["COMMANDS", "main"]
