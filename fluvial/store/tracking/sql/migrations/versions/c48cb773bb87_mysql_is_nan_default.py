"""MySQL: metrics.is_nan defaults to 0 again (the previous revision's MODIFY dropped the default)."""

import sqlalchemy as sa
from alembic import op

revision = "c48cb773bb87"
down_revision = "39d1c3be5f05"


def upgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        # As MLflow's revision does, this also adds a second (identical) 0/1 check on is_nan: databases
        # upgraded by fluvial and by MLflow end with the same constraints.
        op.alter_column("metrics", "is_nan", type_=sa.Boolean(create_constraint=True), nullable=False,
                        server_default="0")
