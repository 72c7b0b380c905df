"""Bringing a database to MLflow 2.22.5's schema: create it when empty, check the Alembic revision
when not, and (``fluvial db upgrade``) add whatever tables, columns and indexes are missing."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from fluvial.exceptions import MlflowException
from fluvial.store.tracking.sql import indexes, schema
from fluvial.store.tracking.sql.engine import write_transaction


def current_revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.select(schema.alembic_version.c.version_num)).scalar()


def initialize(engine: sa.Engine) -> None:
    """Create the schema on an empty database (stamping MLflow's head revision), or check that an
    existing one is at that revision. Safe when several processes start at once."""
    with write_transaction(engine) as conn:
        revision = current_revision(conn)
        if revision is None:
            tables = set(sa.inspect(conn).get_table_names())
            if tables & {"experiments", "runs"}:
                raise MlflowException(
                    "This database has MLflow tables but no alembic_version row; it was not created by "
                    "MLflow or fluvial. Run `fluvial db upgrade <url>` to bring it to the expected schema."
                )
            schema.metadata.create_all(conn)
            conn.execute(sa.insert(schema.alembic_version).values(version_num=schema.MLFLOW_HEAD_REVISION))
        elif revision != schema.MLFLOW_HEAD_REVISION:
            raise MlflowException(
                f"Detected out-of-date database schema (found version {revision}, but expected "
                f"{schema.MLFLOW_HEAD_REVISION}). Take a backup of your database, then run "
                "`fluvial db upgrade <database URI>` to migrate it to the schema fluvial uses "
                "(MLflow 2.22.5's)."
            )
    if indexes.missing_indexes(engine) and indexes.small_enough_to_index_now(engine):
        indexes.ensure_indexes(engine)


def upgrade(engine: sa.Engine, progress: Callable[[str], None] | None = None) -> list[str]:
    """Add missing tables, columns and indexes so the database matches the schema; stamp the head
    revision; then build fluvial's search indexes (``progress`` hears about each). Returns what was
    done. Existing data and columns are never dropped or changed."""
    done: list[str] = []
    with write_transaction(engine) as conn:
        inspector = sa.inspect(conn)
        existing = set(inspector.get_table_names())
        for table in schema.metadata.sorted_tables:
            if table.name not in existing:
                table.create(conn)
                done.append(f"created table {table.name}")
                continue
            have_cols = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have_cols:
                    col_type = column.type.compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {col_type}')
                    done.append(f"added column {table.name}.{column.name}")
            have_idx = {i["name"] for i in inspector.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in have_idx:
                    index.create(conn)
                    done.append(f"created index {index.name}")
        revision = conn.execute(sa.select(schema.alembic_version.c.version_num)).scalar()
        if revision != schema.MLFLOW_HEAD_REVISION:
            conn.execute(sa.delete(schema.alembic_version))
            conn.execute(sa.insert(schema.alembic_version).values(version_num=schema.MLFLOW_HEAD_REVISION))
            done.append(f"stamped revision {schema.MLFLOW_HEAD_REVISION} (was {revision})")
    missing = indexes.missing_indexes(engine)
    indexes.ensure_indexes(engine, progress)
    done += [f"created {'table' if name == indexes.COUNTS_TABLE else 'index'} {name}" for name in missing]
    return done
