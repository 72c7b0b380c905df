"""Dataset tracking: tables datasets, inputs and input_tags."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import MEDIUMTEXT

revision = "7f2a7d5fae7d"
down_revision = "3500859a5d39"


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.experiment_id"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("dataset_source_type", sa.String(36), nullable=False),
        sa.Column("dataset_source", sa.Text(), nullable=False),
        sa.Column("dataset_schema", sa.Text()),
        sa.Column("dataset_profile", sa.Text().with_variant(MEDIUMTEXT, "mysql")),
        sa.PrimaryKeyConstraint("experiment_id", "name", "digest", name="dataset_pk"),
        sa.Index("index_datasets_dataset_uuid", "dataset_uuid"),
        sa.Index("index_datasets_experiment_id_dataset_source_type", "experiment_id", "dataset_source_type"),
    )
    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"),
        sa.Index("index_inputs_input_uuid", "input_uuid"),
        sa.Index("index_inputs_destination_type_destination_id_source_type",
                 "destination_type", "destination_id", "source_type"),
    )
    op.create_table(
        "input_tags",
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
    )
