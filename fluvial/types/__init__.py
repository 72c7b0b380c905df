"""``fluvial.types`` (MLflow's ``mlflow.types``): the schema types users import by that path."""

from fluvial.types.schema import (
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

__all__ = ["Array", "ColSpec", "DataType", "Map", "Object", "ParamSchema", "ParamSpec", "Property", "Schema",
           "TensorSpec"]
