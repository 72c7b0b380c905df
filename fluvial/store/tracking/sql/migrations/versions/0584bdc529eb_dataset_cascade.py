"""Deleting an experiment deletes its datasets (foreign key renamed, ON DELETE CASCADE).

The datasets -> experiments foreign key becomes fk_datasets_experiment_id_experiments."""

import sqlalchemy as sa
from alembic import op

revision = "0584bdc529eb"
down_revision = "f5a4f2784254"

NAME = "fk_datasets_experiment_id_experiments"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite's foreign key has no name: name it by convention while the table is rebuilt, then drop it.
        convention = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
        with op.batch_alter_table("datasets", naming_convention=convention) as batch:
            batch.drop_constraint(NAME, type_="foreignkey")
            batch.create_foreign_key(NAME, "experiments", ["experiment_id"], ["experiment_id"], ondelete="CASCADE")
        return
    for fk in sa.inspect(bind).get_foreign_keys("datasets"):
        if fk["referred_table"] == "experiments" and fk["constrained_columns"] == ["experiment_id"] and fk["name"]:
            op.drop_constraint(fk["name"], "datasets", type_="foreignkey")
    op.create_foreign_key(NAME, "datasets", "experiments", ["experiment_id"], ["experiment_id"], ondelete="CASCADE")
