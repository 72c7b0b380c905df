"""Run tag values up to 5000 characters (were 250)."""

import sqlalchemy as sa
from alembic import op

revision = "7ac759974ad8"
down_revision = "df50e92ffc5e"


def upgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.alter_column(
            "value", existing_type=sa.String(250), type_=sa.String(5000),
            existing_nullable=True, existing_server_default=None,
        )
