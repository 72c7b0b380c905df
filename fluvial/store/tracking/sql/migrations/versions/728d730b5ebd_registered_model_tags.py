"""New table registered_model_tags."""

import sqlalchemy as sa
from alembic import op

revision = "728d730b5ebd"
down_revision = "0a8213491aaa"


def upgrade() -> None:
    op.create_table(
        "registered_model_tags",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(5000)),
        sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", onupdate="cascade"),
                  nullable=False),
        sa.PrimaryKeyConstraint("key", "name", name="registered_model_tag_pk"),
    )
