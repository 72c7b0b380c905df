"""Runs may be KILLED: runs.status becomes VARCHAR(9) checked against the five statuses."""

import sqlalchemy as sa
from alembic import op

revision = "cfd24bdc0731"
down_revision = "2b4d017a5e9b"

OLD = ("SCHEDULED", "FAILED", "FINISHED", "RUNNING")
NEW = (*OLD, "KILLED")


def upgrade() -> None:
    checks = sa.inspect(op.get_bind()).get_check_constraints("runs")
    # The old check (named "status") goes with the old type, when the database kept it (MySQL before
    # 8.0.16 kept none); the new one comes with the new type, unnamed as MLflow leaves it (the database
    # names it, e.g. runs_status_check on PostgreSQL).
    if any(c.get("name") == "status" for c in checks):
        old: sa.types.TypeEngine = sa.Enum(*OLD, create_constraint=True, native_enum=False, name="status")
    else:
        old = sa.String(20)
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("status", type_=sa.Enum(*NEW, create_constraint=True, native_enum=False), existing_type=old)
