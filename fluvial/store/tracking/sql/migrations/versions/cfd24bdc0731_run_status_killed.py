"""Runs may be KILLED: runs.status becomes VARCHAR(9) checked against the five statuses."""

import sqlalchemy as sa
from alembic import op

from fluvial.store.tracking.sql.migrations.helpers import drop_check_if_present

revision = "cfd24bdc0731"
down_revision = "2b4d017a5e9b"

STATUSES = ("SCHEDULED", "FAILED", "FINISHED", "RUNNING", "KILLED")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        drop_check_if_present(batch, "runs", "status")
        batch.alter_column("status", type_=sa.String(9), existing_type=sa.String(20))
        # Unnamed, as MLflow leaves it (the database names it: runs_status_check on PostgreSQL).
        batch.create_check_constraint(None, sa.column("status").in_(STATUSES))  # type: ignore[arg-type]
