"""A run's user_id is also kept as its mlflow.user tag (added where the run has none)."""

import sqlalchemy as sa
from alembic import op

revision = "90e64c465722"
down_revision = "451aebb31d03"


def upgrade() -> None:
    runs = sa.table("runs", sa.column("run_uuid"), sa.column("user_id"))
    tags = sa.table("tags", sa.column("key"), sa.column("value"), sa.column("run_uuid"))
    has_user_tag = sa.exists().where(tags.c.run_uuid == runs.c.run_uuid, tags.c.key == "mlflow.user")
    rows = sa.select(sa.literal("mlflow.user"), runs.c.user_id, runs.c.run_uuid).where(
        runs.c.user_id.is_not(None), runs.c.user_id != "", ~has_user_tag
    )
    op.execute(tags.insert().from_select(["key", "value", "run_uuid"], rows))
