"""``fluvial db upgrade``: creates the schema, fills in what is missing, leaves data alone."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
import sqlalchemy as sa

from fluvial.store.tracking.sql import schema

MLFLOW_PYTHON = pathlib.Path(__file__).resolve().parents[2] / ".venvs" / "mlflow-2.22.5" / "bin" / "python"


def _tables(uri: str) -> set[str]:
    from fluvial.store.tracking.sql.engine import get_engine

    with get_engine(uri).connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_upgrade_creates_the_schema_then_has_nothing_to_do(db_uri, cli):
    out = cli.ok("db", "upgrade", db_uri).stdout
    assert out.splitlines()[0] == f"created the schema at revision {schema.MLFLOW_HEAD_REVISION}"
    assert out.strip().endswith(f"Database upgraded to revision {schema.MLFLOW_HEAD_REVISION}.")
    assert {t.name for t in schema.metadata.sorted_tables} <= _tables(db_uri)
    again = cli.ok("db", "upgrade", db_uri).stdout
    assert again.endswith(f"Database is already at revision {schema.MLFLOW_HEAD_REVISION}; nothing to do.\n")


def test_an_unknown_revision_is_refused_and_left_unchanged(tmp_path, cli):
    uri = f"sqlite:///{tmp_path / 'newer.db'}"
    cli.ok("db", "upgrade", uri)
    from fluvial.store.tracking.sql.engine import get_engine

    engine = get_engine(uri)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.experiments).values(experiment_id=7, name="keep me", lifecycle_stage="active"))
        conn.exec_driver_sql("DROP TABLE trace_tags")
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'abcdef012345'")
    before = cli.dump_db(uri)
    line = cli.error("db", "upgrade", uri, contains="revision 'abcdef012345', which is not an MLflow 1.x/2.x revision")
    assert "left unchanged" in line
    assert cli.dump_db(uri) == before
    assert "trace_tags" not in _tables(uri)


def test_a_database_stamped_at_the_head_without_its_schema_is_refused(tmp_path, cli):
    """What fluvial's upgrade did before its revision chain: a narrow params.value stamped as the head."""
    uri = f"sqlite:///{tmp_path / 'stamped.db'}"
    cli.ok("db", "upgrade", uri)
    from fluvial.store.tracking.sql.engine import get_engine

    with get_engine(uri).begin() as conn:
        conn.exec_driver_sql("DROP TABLE params")
        conn.exec_driver_sql('CREATE TABLE params ("key" VARCHAR(250) NOT NULL, value VARCHAR(500) NOT NULL, '
                             "run_uuid VARCHAR(32) NOT NULL, CONSTRAINT param_pk PRIMARY KEY (\"key\", run_uuid))")
    before = cli.dump_db(uri)
    cli.error("db", "upgrade", uri, contains="params.value holds 500 characters, not 8000")
    assert cli.dump_db(uri) == before


def test_tables_without_a_revision_are_refused_unless_they_are_mlflow_0x(tmp_path, cli):
    uri = f"sqlite:///{tmp_path / 'odd.db'}"
    from fluvial.store.tracking.sql.engine import get_engine

    with get_engine(uri).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256))")
        conn.exec_driver_sql("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY)")
    cli.error("db", "upgrade", uri, contains="no alembic_version row, and they are not those of an MLflow release")
    assert _tables(uri) == {"experiments", "runs"}


@pytest.mark.compat
def test_a_database_written_by_mlflow_is_already_current(tmp_path, cli):
    if not MLFLOW_PYTHON.exists():
        pytest.skip(f"MLflow 2.22.5 is not installed at {MLFLOW_PYTHON} (run `make mlflow-venvs`)")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    subprocess.run(
        [str(MLFLOW_PYTHON), "-c", f"import mlflow; mlflow.MlflowClient({uri!r}).create_experiment('made by mlflow')"],
        check=True, capture_output=True, timeout=300,
    )
    before = cli.dump_db(uri)
    result = cli.ok("db", "upgrade", uri)
    from fluvial.store.tracking.sql.change_log import TABLE as CHANGE_LOG
    from fluvial.store.tracking.sql.indexes import COUNTS_TABLE, NAMES
    from fluvial.store.tracking.sql.value_counts import TABLE as VALUE_COUNTS

    assert result.stdout.splitlines()[:-1] == [f"created index {name}" for name in NAMES] + [
        f"created table {COUNTS_TABLE}", f"created table {CHANGE_LOG}", f"created table {VALUE_COUNTS}"]  # only fluvial's
    assert f"creating index {NAMES[0]} on runs (0 rows)..." in result.stderr  # progress, on stderr
    assert cli.dump_db(uri) == before
    assert cli.ok("db", "upgrade", uri).stdout.endswith("nothing to do.\n")


def test_bad_urls(cli, tmp_path):
    cli.error("db", "upgrade", "mlruns", contains="Not a database URL: 'mlruns'")
    cli.error("db", "upgrade", "http://localhost:5000", contains="Not a database URL")
    cli.error("db", "upgrade", contains="Missing argument 'URL'")
    cli.error("db", "upgrade", "postgresql://nobody@127.0.0.1:1/none", contains="database error")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_upgrade_builds_a_missing_value_index_and_analyzes_its_table_on_postgres(postgres_uri, tmp_path, cli):
    """On an existing PostgreSQL database with runs, ``fluvial db upgrade`` builds the missing
    ``left(value, 200)`` index, reports it, and ANALYZEs the table so the planner has the index's statistics
    (without them it estimates 0.5% of the rows for any value)."""
    from fluvial.entities import Param
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(postgres_uri, str(tmp_path / "artifacts"))
    exp = store.create_experiment("e")
    for i in range(50):
        store.log_batch(store.create_run(exp, "u", i, [], None).info.run_id, [], [Param("model", "rf")], [])
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX fluvial_params_key_value")
    before = cli.dump_db(postgres_uri)
    result = cli.ok("db", "upgrade", postgres_uri)
    assert "created index fluvial_params_key_value" in result.stdout.splitlines()
    assert "analyzing params (planner statistics for the new indexes)..." in result.stderr
    with store.engine.connect() as conn:
        analyzed = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'fluvial_params_key_value'").scalar()
    assert analyzed
    assert cli.dump_db(postgres_uri) == before  # the data is untouched
