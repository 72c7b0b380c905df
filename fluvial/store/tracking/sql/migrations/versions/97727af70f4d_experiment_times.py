"""experiments.creation_time and experiments.last_update_time."""

import sqlalchemy as sa
from alembic import op

revision = "97727af70f4d"
down_revision = "cc1f77228345"


def upgrade() -> None:
    op.add_column("experiments", sa.Column("creation_time", sa.BigInteger()))
    op.add_column("experiments", sa.Column("last_update_time", sa.BigInteger()))
