"""MLflow 2.22.5's SQL schema (tracking and registry tables), as SQLAlchemy Core tables.

The names of tables, columns, keys, indexes and constraints match what MLflow's Alembic migrations
create, so a database written by either program opens in the other. ``alembic_version`` is stamped
with MLflow's head revision. fluvial-only tables would be prefixed ``fluvial_``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UnicodeText,
)
from sqlalchemy.dialects.mysql import MEDIUMTEXT

MLFLOW_HEAD_REVISION = "0584bdc529eb"  # MLflow 2.22.5's Alembic head

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, autoincrement=True, nullable=False),
    Column("name", String(256), unique=True, nullable=False),
    Column("artifact_location", String(256)),
    Column("lifecycle_stage", String(32)),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
    PrimaryKeyConstraint("experiment_id", name="experiment_pk"),
    CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="experiments_lifecycle_stage"),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(5000)),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    PrimaryKeyConstraint("key", "experiment_id", name="experiment_tag_pk"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("name", String(250)),
    Column("source_type", String(20)),
    Column("source_name", String(500)),
    Column("entry_point_name", String(50)),
    Column("user_id", String(256)),
    Column("status", String(9)),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("source_version", String(50)),
    Column("lifecycle_stage", String(20)),
    Column("artifact_uri", String(200)),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id")),
    PrimaryKeyConstraint("run_uuid", name="run_pk"),
    CheckConstraint(
        "source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')", name="source_type"
    ),
    CheckConstraint(
        "status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING', 'KILLED')", name="status"
    ),
    CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="runs_lifecycle_stage"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("step", BigInteger, nullable=False, server_default="0"),
    Column("is_nan", Boolean(create_constraint=True), nullable=False, server_default="0"),
    PrimaryKeyConstraint("key", "timestamp", "step", "run_uuid", "value", "is_nan", name="metric_pk"),
    Index("index_metrics_run_uuid", "run_uuid"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("timestamp", BigInteger),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean(create_constraint=True), nullable=False),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    PrimaryKeyConstraint("key", "run_uuid", name="latest_metric_pk"),
    Index("index_latest_metrics_run_uuid", "run_uuid"),
)

params = Table(
    "params",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(8000), nullable=False),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    PrimaryKeyConstraint("key", "run_uuid", name="param_pk"),
    Index("index_params_run_uuid", "run_uuid"),
)

tags = Table(
    "tags",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(8000)),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    PrimaryKeyConstraint("key", "run_uuid", name="tag_pk"),
    Index("index_tags_run_uuid", "run_uuid"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey(
            "experiments.experiment_id", ondelete="CASCADE", name="fk_datasets_experiment_id_experiments"
        ),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("dataset_source_type", String(36), nullable=False),
    Column("dataset_source", UnicodeText, nullable=False),
    Column("dataset_schema", UnicodeText),
    Column("dataset_profile", UnicodeText().with_variant(MEDIUMTEXT, "mysql")),
    PrimaryKeyConstraint("experiment_id", "name", "digest", name="dataset_pk"),
    Index("index_datasets_dataset_uuid", "dataset_uuid"),
    Index("index_datasets_experiment_id_dataset_source_type", "experiment_id", "dataset_source_type"),
)

inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"),
    Index("index_inputs_input_uuid", "input_uuid"),
    Index(
        "index_inputs_destination_type_destination_id_source_type",
        "destination_type",
        "destination_id",
        "source_type",
    ),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(36), nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
)

trace_info = Table(
    "trace_info",
    metadata,
    Column("request_id", String(50), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", name="fk_trace_info_experiment_id"),
        nullable=False,
    ),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger),
    Column("status", String(50), nullable=False),
    PrimaryKeyConstraint("request_id", name="trace_info_pk"),
    Index("index_trace_info_experiment_id_timestamp_ms", "experiment_id", "timestamp_ms"),
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(8000)),
    Column(
        "request_id",
        String(50),
        ForeignKey("trace_info.request_id", ondelete="CASCADE", name="fk_trace_tags_request_id"),
        nullable=False,
    ),
    PrimaryKeyConstraint("key", "request_id", name="trace_tag_pk"),
    Index("index_trace_tags_request_id", "request_id"),
)

trace_request_metadata = Table(
    "trace_request_metadata",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(8000)),
    Column(
        "request_id",
        String(50),
        ForeignKey("trace_info.request_id", ondelete="CASCADE", name="fk_trace_request_metadata_request_id"),
        nullable=False,
    ),
    PrimaryKeyConstraint("key", "request_id", name="trace_request_metadata_pk"),
    Index("index_trace_request_metadata_request_id", "request_id"),
)

# ---- model registry -----------------------------------------------------------------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), unique=True, nullable=False),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    Column("description", String(5000)),
    PrimaryKeyConstraint("name", name="registered_model_pk"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name", onupdate="cascade"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger),
    Column("last_updated_time", BigInteger),
    Column("description", String(5000)),
    Column("user_id", String(256)),
    Column("current_stage", String(20)),
    Column("source", String(500)),
    Column("run_id", String(32)),
    Column("status", String(20)),
    Column("status_message", String(500)),
    Column("run_link", String(500)),
    Column("storage_location", String(500)),
    PrimaryKeyConstraint("name", "version", name="model_version_pk"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(5000)),
    Column("name", String(256), ForeignKey("registered_models.name", onupdate="cascade"), nullable=False),
    PrimaryKeyConstraint("key", "name", name="registered_model_tag_pk"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("key", String(250), nullable=False),
    Column("value", String(5000)),
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], onupdate="cascade"
    ),
    PrimaryKeyConstraint("key", "name", "version", name="model_version_tag_pk"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column(
        "name",
        String(256),
        ForeignKey(
            "registered_models.name",
            onupdate="cascade",
            ondelete="cascade",
            name="registered_model_alias_name_fkey",
        ),
        nullable=False,
    ),
    PrimaryKeyConstraint("name", "alias", name="registered_model_alias_pk"),
)

alembic_version = Table(
    "alembic_version",
    metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

# MySQL/MariaDB: tables fluvial creates compare, sort and key strings case-sensitively (utf8mb4_bin),
# as SQLite and PostgreSQL do: under the servers' default collations "LR" and "lr" would be one param key
# and one experiment name. Tables MLflow created keep the collation they have (see docs/architecture.md).
MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
for _table in metadata.tables.values():
    if _table.name != "alembic_version":
        _table.dialect_kwargs.update(MYSQL_TABLE_OPTIONS)

__all__ = [
    "MLFLOW_HEAD_REVISION",
    "Text",
    "alembic_version",
    "datasets",
    "experiment_tags",
    "experiments",
    "input_tags",
    "inputs",
    "latest_metrics",
    "metadata",
    "metrics",
    "model_version_tags",
    "model_versions",
    "params",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "runs",
    "tags",
    "trace_info",
    "trace_request_metadata",
    "trace_tags",
]
