"""``EvalData``: what ``evaluate`` evaluates on: the feature frame, labels, optional static predictions,
feature names, a content hash; built from a DataFrame, a numpy array / list, or a ``fluvial.data``
dataset."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from fluvial.exceptions import InvalidParameterValue


def _md5_update(md5: Any, data: Any) -> None:
    import pandas as pd

    md5.update(str(len(data)).encode())
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    md5.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())


class EvalData:
    def __init__(self, data: Any, *, targets: Any = None, predictions: str | None = None,
                 feature_names: list[str] | None = None, path: str | None = None, name: str | None = None) -> None:
        import numpy as np
        import pandas as pd

        self.path = path
        self.targets_name: str | None = None
        self.predictions_name: str | None = None
        self.labels: Any = None
        self.predictions: Any = None
        if feature_names is not None and len(set(feature_names)) < len(list(feature_names)):
            raise InvalidParameterValue("`feature_names` argument must be a list containing unique feature names.")
        if isinstance(data, (np.ndarray, list)):
            if targets is not None and not isinstance(targets, (np.ndarray, list)):
                raise InvalidParameterValue(
                    "If data is a numpy array or list of evaluation features, `targets` argument must be a numpy "
                    "array or list of evaluation labels."
                )
            try:
                array = np.asarray(data)
            except ValueError as exc:
                raise InvalidParameterValue("A list `data` must hold feature rows of equal length.") from exc
            if array.ndim != 2:
                raise InvalidParameterValue(
                    "If the `data` argument is a numpy array, it must be a 2-dimensional array, with the second "
                    "dimension representing the number of features."
                )
            if targets is not None:
                self.labels = np.asarray(targets)
                if len(self.labels) != len(array):
                    raise InvalidParameterValue("The input features example rows must be the same length with labels array.")
            n = array.shape[1]
            if feature_names is not None:
                if len(feature_names) != n:
                    raise InvalidParameterValue("feature name list must be the same length with feature data.")
                self.feature_names = list(feature_names)
            else:
                width = math.ceil(math.log10(n + 1))
                self.feature_names = [f"feature_{str(i + 1).zfill(width)}" for i in range(n)]
            self.features = pd.DataFrame(array, columns=self.feature_names)
        elif isinstance(data, pd.DataFrame):
            if targets is not None and not isinstance(targets, str):
                raise InvalidParameterValue(
                    "If data is a Pandas DataFrame, `targets` argument must be the name of the column which "
                    "contains evaluation labels in the `data` dataframe."
                )
            for what, column in (("targets", targets), ("predictions", predictions)):
                if column is not None and column not in data.columns:
                    raise InvalidParameterValue(f"The {what} column {column!r} is not in the data; its columns are "
                                                f"{list(map(str, data.columns))}.")
            if targets is not None:
                self.labels = data[targets].to_numpy()
                self.targets_name = targets
            if predictions is not None:
                self.predictions = data[predictions].to_numpy()
                self.predictions_name = predictions
            if feature_names is not None:
                missing = [c for c in feature_names if c not in data.columns]
                if missing:
                    raise InvalidParameterValue(f"feature_names {missing} are not columns of the data.")
                features = data[list(feature_names)]
            else:
                features = data.drop(columns=[c for c in (targets, predictions) if c is not None])
            self.features = features
            self.feature_names = [c if isinstance(c, str) else f"feature_{c}" for c in features.columns]
        else:
            raise InvalidParameterValue(
                "The data argument must be a numpy array, a list, a pandas DataFrame or a fluvial.data dataset "
                f"(PandasDataset / NumpyDataset), not {type(data).__name__}."
            )
        md5 = hashlib.md5(usedforsecurity=False)
        for part in (self.features, self.labels, self.predictions):
            if part is not None:
                _md5_update(md5, part)
        md5.update(",".join(map(str, self.feature_names)).encode())
        self.hash = md5.hexdigest()
        self.name = name or self.hash

    @property
    def has_targets(self) -> bool:
        return self.labels is not None

    def metadata_tag(self, model_uuid: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "hash": self.hash, "model": model_uuid}
        if self.path is not None:
            meta["path"] = self.path
        return meta


def log_dataset_tag(client: Any, run_id: str, data: EvalData, model_uuid: str | None) -> None:
    """Add this dataset to the run's ``mlflow.datasets`` tag (a JSON list), as MLflow does."""
    existing = json.loads(client.get_run(run_id).data.tags.get("mlflow.datasets", "[]"))
    entry = data.metadata_tag(model_uuid)
    if not any(e.get("hash") == entry["hash"] and e.get("name") == entry["name"] and e.get("model") == model_uuid
               for e in existing):
        existing.append(entry)
        client.set_tag(run_id, "mlflow.datasets", json.dumps(existing, separators=(",", ":")))
