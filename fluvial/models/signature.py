"""``ModelSignature`` (the input, output and params schemas of a model) and ``infer_signature``.

In an ``MLmodel`` file a signature is three JSON strings (or nulls) under ``signature:``; ``to_dict`` and
``from_dict`` convert to and from that form. Importing this module does not load numpy or pandas:
only inference does.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from fluvial.models.schema import ColSpec, ParamSchema, Schema, convert_dataclass_to_schema
from fluvial.models.types import AnyType

__all__ = ["ModelSignature", "infer_signature"]

_logger = logging.getLogger(__name__)

# keys of the MLmodel file that belong to the signature but sit next to it (MLflow 2.20+)
SIGNATURE_FLAG_KEYS = ("is_signature_from_type_hint", "type_hint_from_example")


class ModelSignature:
    """The schemas of a model's inputs, outputs and inference params (any may be None, not all)."""

    def __init__(self, inputs: Any = None, outputs: Any = None, params: ParamSchema | None = None) -> None:
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            if value is not None and not isinstance(value, Schema) and not dataclasses.is_dataclass(value):
                raise TypeError(
                    f"{what} must be either None, fluvial.models.signature.Schema, or a dataclass, "
                    f"got '{type(value).__name__}'"
                )
        if params is not None and not isinstance(params, ParamSchema):
            raise TypeError(
                "If params are provided, they must by of type fluvial.models.signature.ParamSchema, "
                f"got '{type(params).__name__}'"
            )
        if inputs is None and outputs is None and params is None:
            raise ValueError("At least one of inputs, outputs or params must be provided")
        self.inputs: Schema | None = _as_schema(inputs)
        self.outputs: Schema | None = _as_schema(outputs)
        self.params: ParamSchema | None = params
        self._is_signature_from_type_hint = False
        self._is_type_hint_from_example = False

    def to_dict(self) -> dict[str, Any]:
        """The MLmodel form: ``{"inputs": <json str or None>, "outputs": ..., "params": ...}``."""
        return {
            "inputs": self.inputs.to_json() if self.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs else None,
            "params": self.params.to_json() if self.params else None,
        }

    @classmethod
    def from_dict(cls, signature_dict: dict[str, Any]) -> ModelSignature:
        """Read the MLmodel form; absent keys are None. The two flags MLflow 2.20+ writes next to the
        signature are applied when a caller leaves them in."""
        inputs = Schema.from_json(x) if (x := signature_dict.get("inputs")) else None
        outputs = Schema.from_json(x) if (x := signature_dict.get("outputs")) else None
        params = ParamSchema.from_json(x) if (x := signature_dict.get("params")) else None
        signature = cls(inputs, outputs, params)
        signature._is_signature_from_type_hint = bool(signature_dict.get("is_signature_from_type_hint", False))
        signature._is_type_hint_from_example = bool(signature_dict.get("type_hint_from_example", False))
        return signature

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ModelSignature) and self.inputs == other.inputs
                and self.outputs == other.outputs and self.params == other.params)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"inputs: \n  {self.inputs!r}\noutputs: \n  {self.outputs!r}\nparams: \n  {self.params!r}\n"


def _as_schema(value: Any) -> Schema | None:
    if value is not None and not isinstance(value, Schema):
        return convert_dataclass_to_schema(value)
    return value


def infer_signature(model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None) -> ModelSignature:
    """The signature of a model from an example of its input, its output for that input, and the
    params it takes at inference (see ``_infer_schema`` for what each kind of data gives). Data whose
    schema cannot be inferred gets ``Schema([ColSpec(AnyType())])`` and a logged warning."""
    from fluvial.models._inference import InvalidDataForSignatureInferenceError, infer_param_schema

    schemas: dict[str, Schema | None] = {}
    for key, data in (("inputs", model_input), ("outputs", model_output)):
        if data is None:
            schemas[key] = None
            continue
        try:
            schemas[key] = convert_dataclass_to_schema(data) if dataclasses.is_dataclass(data) else _infer_schema(data)
        except InvalidDataForSignatureInferenceError:
            raise
        except Exception:
            note = "Note that data types are not validated during inference for AnyType. " if key == "inputs" else ""
            _logger.warning(
                "Failed to infer schema for %s. Setting schema to `Schema([ColSpec(type=AnyType())]` as default. "
                "%sTo see the full traceback, set logging level to DEBUG.", key, note,
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )
            schemas[key] = Schema([ColSpec(AnyType())])
    return ModelSignature(schemas["inputs"], schemas["outputs"], infer_param_schema(params) if params else None)


def _infer_schema(data: Any) -> Schema:
    """The Schema of example ``data``: a DataFrame/Series gives ColSpecs, an ndarray/sparse matrix/dict of
    ndarrays TensorSpecs, a list/dict/scalar ColSpecs. MlflowException when it cannot be inferred."""
    from fluvial.models._inference import infer_schema

    return infer_schema(data)


def _infer_param_schema(parameters: dict[str, Any]) -> ParamSchema:
    from fluvial.models._inference import infer_param_schema

    return infer_param_schema(parameters)
