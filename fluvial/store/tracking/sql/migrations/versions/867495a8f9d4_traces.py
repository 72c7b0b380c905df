"""Tracing: tables trace_info, trace_tags and trace_request_metadata."""

import sqlalchemy as sa
from alembic import op

revision = "867495a8f9d4"
down_revision = "acf3f17fdcc7"


def upgrade() -> None:
    op.create_table(
        "trace_info",
        sa.Column("request_id", sa.String(50), nullable=False),
        sa.Column("experiment_id", sa.Integer(),
                  sa.ForeignKey("experiments.experiment_id", name="fk_trace_info_experiment_id"), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger()),
        sa.Column("status", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="trace_info_pk"),
        sa.Index("index_trace_info_experiment_id_timestamp_ms", "experiment_id", "timestamp_ms"),
    )
    for table, pk in (("trace_tags", "trace_tag_pk"), ("trace_request_metadata", "trace_request_metadata_pk")):
        op.create_table(
            table,
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.String(8000)),
            sa.Column("request_id", sa.String(50),
                      sa.ForeignKey("trace_info.request_id", name=f"fk_{table}_request_id"), nullable=False),
            sa.PrimaryKeyConstraint("key", "request_id", name=pk),
            sa.Index(f"index_{table}_request_id", "request_id"),
        )
