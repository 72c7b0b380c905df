"""runs.deleted_time."""

import sqlalchemy as sa
from alembic import op

revision = "0c779009ac13"
down_revision = "bd07f7e963c5"


def upgrade() -> None:
    op.add_column("runs", sa.Column("deleted_time", sa.BigInteger()))
