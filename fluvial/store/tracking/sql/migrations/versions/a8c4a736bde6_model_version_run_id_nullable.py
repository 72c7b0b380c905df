"""A model version need not come from a run: model_versions.run_id may be NULL."""

import sqlalchemy as sa
from alembic import op

revision = "a8c4a736bde6"
down_revision = "84291f40a231"


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.alter_column("run_id", nullable=True, existing_type=sa.String(32))
