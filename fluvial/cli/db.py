"""``fluvial db``: manage the schema of a tracking database."""

from __future__ import annotations

import click


@click.group("db")
def commands() -> None:
    """Manage a tracking database."""


@commands.command()
@click.argument("url")
def upgrade(url: str) -> None:
    """Bring the database at URL to the schema fluvial uses (MLflow 2.22.5's, Alembic head 0584bdc529eb).

    A database written by any MLflow 1.x or 2.x release is migrated revision by revision, with MLflow's
    data and type changes (e.g. wider param and tag values, latest_metrics filled in), and ends at MLflow
    2.22.5's head, so MLflow's own `mlflow db upgrade` finds nothing left to do. An empty database gets
    the whole schema. A database at a revision fluvial does not know (a newer MLflow) is refused and left
    unchanged. Then fluvial's search indexes (named fluvial_*, ignored by MLflow) are built, with
    progress on stderr: on a database with millions of rows this takes minutes. Last, every metric series
    with at least 20,000 points gets its block summary (SQLite and PostgreSQL; progress on stderr), so
    the first chart view of a long metric does not read every point. Take a backup first: on MySQL each
    step commits by itself.
    """
    from fluvial._internal.uri import is_sql_uri
    from fluvial.exceptions import InvalidParameterValue

    if not is_sql_uri(url):
        raise InvalidParameterValue(
            f"Not a database URL: {url!r}. Expected e.g. sqlite:///mlflow.db or postgresql://user@host/db"
        )
    from fluvial.store.tracking.sql import metric_blocks, migrations, schema
    from fluvial.store.tracking.sql.engine import get_engine

    engine = get_engine(url)
    done = migrations.upgrade(engine, progress=click.echo,
                              index_progress=lambda line: click.echo(line, err=True))
    if done:
        click.echo(f"Database upgraded to revision {schema.MLFLOW_HEAD_REVISION}.")
    else:
        click.echo(f"Database is already at revision {schema.MLFLOW_HEAD_REVISION}; nothing to do.")
    kept = metric_blocks.keep_long_series(engine, progress=lambda line: click.echo(line, err=True))
    if kept:
        click.echo(f"Metric summaries of {kept} long series are up to date.")
