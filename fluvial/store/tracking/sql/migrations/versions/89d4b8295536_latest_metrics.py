"""New table latest_metrics, filled with each run's latest value of each metric.

The latest is the one with the greatest step, then timestamp, then value."""

import sqlalchemy as sa
from alembic import op

revision = "89d4b8295536"
down_revision = "7ac759974ad8"

COLUMNS = ["key", "value", "timestamp", "step", "is_nan", "run_uuid"]


def upgrade() -> None:
    latest = op.create_table(
        "latest_metrics",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp", sa.BigInteger()),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("is_nan", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), nullable=False),
        sa.PrimaryKeyConstraint("key", "run_uuid", name="latest_metric_pk"),
    )
    metrics = sa.table("metrics", *(sa.column(c) for c in COLUMNS))
    rank = sa.func.row_number().over(
        partition_by=[metrics.c.run_uuid, metrics.c.key],
        order_by=[metrics.c.step.desc(), metrics.c.timestamp.desc(), metrics.c.value.desc()],
    )
    ranked = sa.select(*metrics.c, rank.label("rank")).subquery("ranked")
    op.execute(
        latest.insert().from_select(COLUMNS, sa.select(*(ranked.c[c] for c in COLUMNS)).where(ranked.c.rank == 1))
    )
