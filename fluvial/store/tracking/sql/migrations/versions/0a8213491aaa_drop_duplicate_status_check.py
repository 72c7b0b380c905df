"""MySQL: drop a leftover check constraint named status on runs (elsewhere the previous revision did)."""

from alembic import op

from fluvial.store.tracking.sql.migrations.helpers import drop_check_if_present

revision = "0a8213491aaa"
down_revision = "cfd24bdc0731"


def upgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        drop_check_if_present(op, "runs", "status")
