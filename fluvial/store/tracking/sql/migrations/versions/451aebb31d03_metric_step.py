"""metrics get a step (default 0), which joins their primary key."""

import sqlalchemy as sa
from alembic import op

revision = "451aebb31d03"
down_revision = None


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.add_column(sa.Column("step", sa.BigInteger(), nullable=False, server_default="0"))
        batch.drop_constraint("metric_pk", type_="primary")
        batch.create_primary_key("metric_pk", ["key", "timestamp", "step", "run_uuid", "value"])
