"""Param values up to 8000 characters (were 500)."""

import sqlalchemy as sa
from alembic import op

revision = "2d6e25af4d3e"
down_revision = "7f2a7d5fae7d"


def upgrade() -> None:
    with op.batch_alter_table("params") as batch:
        batch.alter_column("value", existing_type=sa.String(500), type_=sa.String(8000),
                           existing_nullable=False, existing_server_default=None)
