"""model_versions.run_link."""

import sqlalchemy as sa
from alembic import op

revision = "84291f40a231"
down_revision = "27a6a02d2cf1"


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("run_link", sa.String(500)))
