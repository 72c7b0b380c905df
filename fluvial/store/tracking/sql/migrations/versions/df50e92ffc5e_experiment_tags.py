"""New table experiment_tags."""

import sqlalchemy as sa
from alembic import op

revision = "df50e92ffc5e"
down_revision = "181f10493468"


def upgrade() -> None:
    op.create_table(
        "experiment_tags",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(5000)),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.experiment_id"), nullable=False),
        sa.PrimaryKeyConstraint("key", "experiment_id", name="experiment_tag_pk"),
    )
