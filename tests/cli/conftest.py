"""Helpers for the CLI tests: invoking ``fluvial`` in-process, checking error output, snapshotting a database."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    from fluvial.cli import main

    return CliRunner().invoke(main, list(args), env=env, prog_name="fluvial")


def ok(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run a command that must succeed; on failure the assertion shows its output and traceback."""
    result = invoke(*args, env=env)
    if result.exit_code != 0:
        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        pytest.fail(f"fluvial {' '.join(args)} exited {result.exit_code}:\n{result.output}\n{trace}")
    return result


def error(*args: str, contains: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail cleanly: non-zero exit, exactly one ``Error:`` line on stderr,
    nothing on stdout, no traceback. Returns the error line."""
    result = invoke(*args, env=env)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exc_info  # handled, not a crash
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert result.stdout == ""
    if contains is not None:
        assert contains in lines[0]
    return lines[0]


def dump_db(uri: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every tracking/registry table, sorted: compare two dumps to prove nothing changed."""
    import sqlalchemy as sa

    from fluvial.store.tracking.sql import schema
    from fluvial.store.tracking.sql.engine import get_engine

    engine = get_engine(uri)
    with engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        return {
            t.name: sorted((tuple(row) for row in conn.execute(sa.select(t))), key=repr)
            for t in schema.metadata.sorted_tables
            if t.name in existing
        }


class Cli:
    """The helpers above, handed to tests as the ``cli`` fixture."""

    invoke = staticmethod(invoke)
    ok = staticmethod(ok)
    error = staticmethod(error)
    dump_db = staticmethod(dump_db)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def uri(db_uri) -> str:
    """The tracking URI for CLI commands (and the fluent API in the test): each SQL backend."""
    import fluvial

    fluvial.set_tracking_uri(db_uri)
    return db_uri


@pytest.fixture
def make_run(uri, tmp_path) -> Callable[..., Any]:
    """Create a finished run with a param, metrics (one NaN), a tag and an artifact file."""
    from fluvial import MlflowClient

    def make(experiment_name: str = "exp", run_name: str = "r1") -> Any:
        client = MlflowClient()
        experiment = client.get_experiment_by_name(experiment_name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(experiment_name)
        run = client.create_run(experiment_id, run_name=run_name)
        run_id = run.info.run_id
        client.log_param(run_id, "alpha", "0.5")
        client.log_metric(run_id, "loss", 0.25, step=1)
        client.log_metric(run_id, "loss", float("nan"), step=2)
        client.set_tag(run_id, "team", "growth")
        local = tmp_path / f"{run_name}.txt"
        local.write_text("artifact body")
        client.log_artifact(run_id, str(local), "notes")
        client.set_terminated(run_id)
        return client.get_run(run_id)

    return make
