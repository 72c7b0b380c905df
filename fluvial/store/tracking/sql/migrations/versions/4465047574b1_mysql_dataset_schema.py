"""MySQL: datasets.dataset_schema becomes MEDIUMTEXT (TEXT holds only 64 KB there)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import MEDIUMTEXT

revision = "4465047574b1"
down_revision = "5b0e9adcef9c"


def upgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        op.alter_column("datasets", "dataset_schema", existing_type=sa.Text(), type_=MEDIUMTEXT())
