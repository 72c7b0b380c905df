"""``fluvial.types.schema`` (MLflow's ``mlflow.types.schema``)."""

from fluvial.models.schema import (  # noqa: F401
    AnyType,
    Array,
    ColSpec,
    DataType,
    Map,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    TensorSpec,
)
