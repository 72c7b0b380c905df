"""Indexes on run_uuid of params, metrics, latest_metrics and tags."""

from alembic import op

revision = "bd07f7e963c5"
down_revision = "c48cb773bb87"


def upgrade() -> None:
    for table in ("params", "metrics", "latest_metrics", "tags"):
        op.create_index(f"index_{table}_run_uuid", table, ["run_uuid"])
