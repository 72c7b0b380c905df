"""``NumpyDataset`` and ``from_numpy``."""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import Any

from fluvial.data.dataset import Dataset, infer_schema, resolve_source
from fluvial.data.dataset_source import DatasetSource
from fluvial.data.digest_utils import compute_numpy_digest
from fluvial.data.pandas_dataset import PyFuncInputsOutputs
from fluvial.data.schema import TensorDatasetSchema

_logger = logging.getLogger(__name__)


class NumpyDataset(Dataset):
    """Numpy features (an array or a dict of named arrays) and optional targets, logged as a run input."""

    def __init__(
        self,
        features: Any,
        source: DatasetSource,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ):
        self._features = features
        self._targets = targets
        super().__init__(source=source, name=name, digest=digest)

    def _compute_digest(self) -> str:
        return compute_numpy_digest(self._features, self._targets)

    def to_dict(self) -> dict[str, Any]:
        """Adds ``schema`` (``{"mlflow_tensorspec": ...}`` as JSON, or None) and ``profile`` (JSON)."""
        schema = self.schema
        config = super().to_dict()
        config["schema"] = json.dumps(schema.to_dict()) if schema else None
        config["profile"] = json.dumps(self.profile)
        return config

    @property
    def features(self) -> Any:
        return self._features

    @property
    def targets(self) -> Any:
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        """Shape, size and bytes of the features (and targets), per key for dicts of arrays."""

        def attr(data: Any, name: str) -> Any:
            if isinstance(data, dict):
                return {key: _plain(getattr(array, name)) for key, array in data.items()}
            return _plain(getattr(data, name))

        profile = {f"features_{a}": attr(self._features, a) for a in ("shape", "size", "nbytes")}
        if self._targets is not None:
            profile.update({f"targets_{a}": attr(self._targets, a) for a in ("shape", "size", "nbytes")})
        return profile

    @cached_property
    def schema(self) -> TensorDatasetSchema | None:
        try:
            targets = infer_schema(self._targets) if self._targets is not None else None
            return TensorDatasetSchema(features=infer_schema(self._features), targets=targets)
        except Exception as e:
            _logger.warning("Failed to infer schema for NumPy dataset. Exception: %s", e)
            return None

    def to_pyfunc(self) -> PyFuncInputsOutputs:
        return PyFuncInputsOutputs(self._features, self._targets)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else int(value)


def from_numpy(
    features: Any,
    source: str | DatasetSource | None = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """A :class:`NumpyDataset`; ``source`` as for ``from_pandas``."""
    return NumpyDataset(features=features, source=resolve_source(source), targets=targets, name=name, digest=digest)
