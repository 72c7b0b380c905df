"""Run tag values up to 8000 characters (were 5000)."""

import sqlalchemy as sa
from alembic import op

revision = "f5a4f2784254"
down_revision = "4465047574b1"


def upgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.alter_column("value", existing_type=sa.String(5000), type_=sa.String(8000),
                           existing_nullable=True, existing_server_default=None)
