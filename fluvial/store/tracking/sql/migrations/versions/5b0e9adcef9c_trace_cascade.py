"""Deleting a trace deletes its tags and request metadata (ON DELETE CASCADE)."""

from alembic import op

revision = "5b0e9adcef9c"
down_revision = "867495a8f9d4"


def upgrade() -> None:
    for table in ("trace_tags", "trace_request_metadata"):
        name = f"fk_{table}_request_id"
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")
            batch.create_foreign_key(name, "trace_info", ["request_id"], ["request_id"], ondelete="CASCADE")
