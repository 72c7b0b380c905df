"""is_nan in metrics and latest_metrics: NOT NULL booleans, checked 0/1 where booleans are not native."""

import sqlalchemy as sa
from alembic import op

revision = "39d1c3be5f05"
down_revision = "a8c4a736bde6"


def upgrade() -> None:
    for table in ("latest_metrics", "metrics"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("is_nan", type_=sa.Boolean(create_constraint=True), nullable=False)
