"""model_versions.storage_location."""

import sqlalchemy as sa
from alembic import op

revision = "acf3f17fdcc7"
down_revision = "2d6e25af4d3e"


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("storage_location", sa.String(500)))
