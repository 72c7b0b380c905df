"""New table model_version_tags."""

import sqlalchemy as sa
from alembic import op

revision = "27a6a02d2cf1"
down_revision = "728d730b5ebd"


def upgrade() -> None:
    op.create_table(
        "model_version_tags",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(5000)),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"],
                                onupdate="cascade"),
        sa.PrimaryKeyConstraint("key", "name", "version", name="model_version_tag_pk"),
    )
