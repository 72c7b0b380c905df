"""metrics.value becomes a double; NaN is recorded in a new is_nan column (part of the key)."""

import sqlalchemy as sa
from alembic import op

revision = "181f10493468"
down_revision = "90e64c465722"


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("value", type_=sa.Float(precision=53), nullable=False)
        batch.add_column(
            sa.Column("is_nan", sa.Boolean(create_constraint=False), nullable=False, server_default="0")
        )
        batch.drop_constraint("metric_pk", type_="primary")
        batch.create_primary_key("metric_pk", ["key", "timestamp", "step", "run_uuid", "value", "is_nan"])
