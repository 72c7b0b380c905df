"""Bringing a database to MLflow 2.22.5's schema.

:func:`initialize` creates the schema on an empty database (stamping MLflow's head revision) or checks
that an existing one is at that revision. :func:`upgrade` (``fluvial db upgrade``) takes a database at
any MLflow 1.x/2.x revision to the head by running fluvial's own revision chain (``versions/``, run
with Alembic's operations and SQLite batch mode): one module per MLflow revision, with MLflow's id, that
reproduces what MLflow's migration of that id does to the schema and the data. ``alembic_version`` then
holds MLflow's head, so MLflow's own ``mlflow db upgrade`` has nothing left to do. A revision the chain
does not know (a newer MLflow, or not MLflow at all) is refused, never stamped.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import sqlalchemy as sa

from fluvial.exceptions import MlflowException
from fluvial.store.tracking.sql import indexes, schema
from fluvial.store.tracking.sql.engine import write_transaction

VERSIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "versions")
BASE_TABLES = {"experiments", "runs", "tags", "metrics", "params"}


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
    # fluvial's search indexes (issue 11): built here on small databases; `fluvial db upgrade` builds
    # them on large ones, with progress, since that can take minutes.
    if indexes.missing_indexes(engine) and indexes.small_enough_to_index_now(engine):
        indexes.ensure_indexes(engine)


def _chain() -> list[tuple[str, str, object]]:
    """fluvial's revisions from MLflow's first to its 2.22.5 head: (revision, description, module)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(os.path.dirname(VERSIONS_DIR), version_locations=[VERSIONS_DIR])
    found = list(script.walk_revisions("base", "heads"))  # head first
    if [s.revision for s in found[:1]] != [schema.MLFLOW_HEAD_REVISION] or len(script.get_heads()) != 1:
        raise MlflowException(f"fluvial's revision chain in {VERSIONS_DIR} does not end at MLflow's head.")
    return [(s.revision, (s.doc or "").strip().splitlines()[0], s.module) for s in reversed(found)]


def known_revisions() -> list[str]:
    """MLflow's revisions, oldest first, that :func:`upgrade` knows."""
    return [revision for revision, _, _ in _chain()]


def _starting_point(conn: sa.Connection, chain: list[str]) -> int:
    """Index in ``chain`` of the first revision to apply; refuses databases the chain cannot take."""
    revision = current_revision(conn)
    if revision is None:
        tables = set(sa.inspect(conn).get_table_names())
        if tables >= BASE_TABLES and "latest_metrics" not in tables:
            return 0  # MLflow before 1.0 kept no revision: its tables are the base of the chain
        raise MlflowException(
            "This database has MLflow tables but no alembic_version row, and they are not those of an "
            f"MLflow release before 1.0 (found tables: {', '.join(sorted(tables))}). fluvial cannot tell "
            "which schema it has and leaves it unchanged; restore it from a backup made by MLflow."
        )
    if revision not in chain:
        raise MlflowException(
            f"This database is at revision {revision!r}, which is not an MLflow 1.x/2.x revision fluvial "
            f"knows (its chain ends at {schema.MLFLOW_HEAD_REVISION}, MLflow 2.22.5's head). It may have been "
            "written by a newer MLflow (3.x), whose schema fluvial cannot open; the database was left "
            "unchanged. Use it with that MLflow release, or restore a backup from MLflow 2.22.5 or older."
        )
    return chain.index(revision) + 1


# Columns MLflow widened over its revisions, with their width at the head.
WIDENED = {("params", "value"): 8000, ("tags", "value"): 8000}


def _check_head(conn: sa.Connection) -> None:
    """A database stamped with the head revision must have the head's tables and widths. fluvial before
    its own revision chain stamped the head on older databases after adding only missing tables and
    columns; such a database is refused here rather than called current."""
    inspector = sa.inspect(conn)
    missing = sorted({t.name for t in schema.metadata.sorted_tables} - set(inspector.get_table_names()))
    narrow = []
    for (table, column), width in WIDENED.items():
        if table in missing:
            continue
        found = {c["name"]: c["type"] for c in inspector.get_columns(table)}.get(column)
        length = getattr(found, "length", None)
        if length is not None and length < width:
            narrow.append(f"{table}.{column} holds {length} characters, not {width}")
    if missing or narrow:
        problems = "; ".join(([f"missing tables: {', '.join(missing)}"] if missing else []) + narrow)
        raise MlflowException(
            f"This database is stamped with revision {schema.MLFLOW_HEAD_REVISION} but does not have that "
            f"revision's schema ({problems}); an earlier fluvial stamped it without migrating it. Restore the "
            "backup taken before that upgrade and run `fluvial db upgrade` on it, or set alembic_version to "
            "the revision of the MLflow release that wrote the database and run it again."
        )


def _apply(conn: sa.Connection, module: object, revision: str, previous: str | None) -> None:
    """Run one revision's ``upgrade()`` with Alembic's operations on ``conn`` and record the revision."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn)
    with Operations.context(context):
        module.upgrade()  # type: ignore[attr-defined]
    if previous is None:
        schema.alembic_version.create(conn, checkfirst=True)
        conn.execute(sa.delete(schema.alembic_version))
        conn.execute(sa.insert(schema.alembic_version).values(version_num=revision))
    else:
        conn.execute(sa.update(schema.alembic_version).values(version_num=revision))


def upgrade(engine: sa.Engine, progress: Callable[[str], None] | None = None,
            index_progress: Callable[[str], None] | None = None) -> list[str]:
    """Bring the database to MLflow 2.22.5's schema; returns what was done, one line a step.

    An empty database gets the whole schema. One at an older MLflow revision gets each later revision
    of fluvial's chain in turn, each in a transaction of its own that also records the revision (on
    MySQL, whose DDL commits by itself, a failed step leaves the database at the previous revision).
    Refuses (:class:`MlflowException`, database unchanged) a revision the chain does not know.
    Last, fluvial's search indexes (``fluvial_*``, ignored by MLflow) are built; ``index_progress``
    hears how each one is coming along.
    """
    done: list[str] = []

    def say(line: str) -> None:
        done.append(line)
        if progress is not None:
            progress(line)

    with write_transaction(engine) as conn:
        tables = set(sa.inspect(conn).get_table_names())
        fresh = current_revision(conn) is None and not (tables & (BASE_TABLES | {"alembic_version"}))
        if fresh:
            schema.metadata.create_all(conn)
            conn.execute(sa.insert(schema.alembic_version).values(version_num=schema.MLFLOW_HEAD_REVISION))
            say(f"created the schema at revision {schema.MLFLOW_HEAD_REVISION}")
    if not fresh:
        chain = _chain()
        revisions = [revision for revision, _, _ in chain]
        with engine.connect() as conn:
            start = _starting_point(conn, revisions)
            if start == len(revisions):
                _check_head(conn)
        previous = revisions[start - 1] if start else None
        for revision, description, module in chain[start:]:
            with write_transaction(engine) as conn:
                _apply(conn, module, revision, previous)
            say(f"applied {revision}: {description}")
            previous = revision
    missing = indexes.missing_indexes(engine)
    indexes.ensure_indexes(engine, index_progress)
    for name in missing:
        say(f"created {'index' if name in indexes.NAMES else 'table'} {name}")
    return done
