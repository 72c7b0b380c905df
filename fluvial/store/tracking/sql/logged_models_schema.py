"""fluvial's own tables for MLflow 3 logged models and their links to runs (``fluvial_logged_model*``).

MLflow 2.22.5's schema has no place for logged models, so these tables live beside it under the
``fluvial_`` prefix, in their own ``MetaData``: the MLflow schema stays exactly MLflow's (and equal to
a database MLflow 2.22.5 creates), and an MLflow 2.x server opening the database ignores them. They are
created on first use (``create_all`` with ``checkfirst``), by whichever process gets there first.
No foreign keys: ``fluvial gc`` and MLflow may hard-delete experiments and runs without knowing them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from fluvial.store.tracking.sql import schema
from fluvial.store.tracking.sql.engine import write_transaction

metadata = MetaData()

logged_models = Table(
    "fluvial_logged_models",
    metadata,
    Column("model_id", String(36), nullable=False),
    Column("experiment_id", Integer, nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1000), nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", Integer, nullable=False),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("status_message", String(1000)),
    PrimaryKeyConstraint("model_id", name="fluvial_logged_models_pk"),
    Index("fluvial_logged_models_experiment_id", "experiment_id", "creation_timestamp_ms"),
    Index("fluvial_logged_models_source_run_id", "source_run_id"),
)

logged_model_params = Table(
    "fluvial_logged_model_params",
    metadata,
    Column("model_id", String(36), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="fluvial_logged_model_params_pk"),
)

logged_model_tags = Table(
    "fluvial_logged_model_tags",
    metadata,
    Column("model_id", String(36), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="fluvial_logged_model_tags_pk"),
)

logged_model_metrics = Table(
    "fluvial_logged_model_metrics",
    metadata,
    Column("model_id", String(36), nullable=False),
    Column("key", String(250), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean(create_constraint=False), nullable=False),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    PrimaryKeyConstraint("model_id", "key", "timestamp", "step", "run_id", name="fluvial_logged_model_metrics_pk"),
)

# Run <-> model links: a run's model outputs (``runs/outputs``) and model inputs (``log-inputs``).
run_models = Table(
    "fluvial_logged_model_runs",
    metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("direction", String(8), nullable=False),  # "input" | "output"
    Column("model_id", String(36), nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "direction", "model_id", name="fluvial_logged_model_runs_pk"),
)

for _table in metadata.tables.values():
    _table.dialect_kwargs.update(schema.MYSQL_TABLE_OPTIONS)

# Status numbers as MLflow stores them (LoggedModelStatus on the wire is the same numbers).
STATUS_UNSPECIFIED, STATUS_PENDING, STATUS_READY, STATUS_FAILED = 0, 1, 2, 3
STATUS_NAMES = {"UNSPECIFIED": 0, "PENDING": 1, "READY": 2, "FAILED": 3, "UPLOAD_FAILED": 3}


def ensure_tables(engine: sa.Engine) -> None:
    """Create the ``fluvial_`` logged-model tables that are missing (:func:`for_engine` calls it once
    per engine)."""
    try:
        with write_transaction(engine) as conn:
            metadata.create_all(conn, checkfirst=True)
    except sa.exc.DBAPIError:  # another process created them between the check and the CREATE
        with write_transaction(engine) as conn:
            metadata.create_all(conn, checkfirst=True)
