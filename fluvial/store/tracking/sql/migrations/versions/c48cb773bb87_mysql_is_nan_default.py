"""MySQL: metrics.is_nan defaults to 0 again (the previous revision's MODIFY dropped the default)."""

import sqlalchemy as sa
from alembic import op

revision = "c48cb773bb87"
down_revision = "39d1c3be5f05"


def upgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        op.alter_column("metrics", "is_nan", type_=sa.Boolean(create_constraint=False), nullable=False,
                        server_default="0")
