"""The model registry: tables registered_models and model_versions."""

import sqlalchemy as sa
from alembic import op

revision = "2b4d017a5e9b"
down_revision = "89d4b8295536"


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), unique=True, nullable=False),
        sa.Column("creation_time", sa.BigInteger()),
        sa.Column("last_updated_time", sa.BigInteger()),
        sa.Column("description", sa.String(5000)),
        sa.PrimaryKeyConstraint("name", name="registered_model_pk"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name", onupdate="cascade"),
                  nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("creation_time", sa.BigInteger()),
        sa.Column("last_updated_time", sa.BigInteger()),
        sa.Column("description", sa.String(5000)),
        sa.Column("user_id", sa.String(256)),
        sa.Column("current_stage", sa.String(20)),
        sa.Column("source", sa.String(500)),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20)),
        sa.Column("status_message", sa.String(500)),
        sa.PrimaryKeyConstraint("name", "version", name="model_version_pk"),
    )
