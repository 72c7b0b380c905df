"""``TensorDatasetSchema``: the schema of a numpy dataset (features and optional targets)."""

from __future__ import annotations

from typing import Any

from fluvial.exceptions import InvalidParameterValue


def _is_schema(value: Any) -> bool:
    return type(value).__name__ == "Schema" and hasattr(value, "to_json")


class TensorDatasetSchema:
    """Tensor schemas of a dataset's features and targets; stored as
    ``{"mlflow_tensorspec": {"features": <schema JSON>, "targets": <schema JSON or null>}}``."""

    def __init__(self, features: Any, targets: Any = None):
        if not _is_schema(features):
            raise InvalidParameterValue(f"features must be fluvial.models.schema.Schema, got '{type(features)}'")
        if targets is not None and not _is_schema(targets):
            raise InvalidParameterValue(
                f"targets must be either None or fluvial.models.schema.Schema, got '{type(targets)}'"
            )
        self.features = features
        self.targets = targets

    def to_dict(self) -> dict[str, Any]:
        return {
            "mlflow_tensorspec": {
                "features": self.features.to_json(),
                "targets": self.targets.to_json() if self.targets is not None else None,
            }
        }

    @classmethod
    def from_dict(cls, schema_dict: dict[str, Any]) -> TensorDatasetSchema:
        from fluvial.models.schema import Schema

        if "mlflow_tensorspec" not in schema_dict:
            raise InvalidParameterValue("TensorDatasetSchema dictionary is missing expected key 'mlflow_tensorspec'")
        inner = schema_dict["mlflow_tensorspec"]
        targets = inner.get("targets")
        return cls(Schema.from_json(inner["features"]), Schema.from_json(targets) if targets is not None else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorDatasetSchema) and (self.features, self.targets) == (other.features, other.targets)

    def __repr__(self) -> str:
        return f"features:\n  {self.features!r}\ntargets:\n  {self.targets!r}\n"
