"""New table registered_model_aliases (unless it exists already)."""

import sqlalchemy as sa
from alembic import op

revision = "3500859a5d39"
down_revision = "97727af70f4d"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("registered_model_aliases"):
        return
    op.create_table(
        "registered_model_aliases",
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "name", sa.String(256),
            sa.ForeignKey("registered_models.name", onupdate="cascade", ondelete="cascade",
                          name="registered_model_alias_name_fkey"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", "alias", name="registered_model_alias_pk"),
    )
