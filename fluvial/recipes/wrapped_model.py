"""The recipe model a train step logs as ``train/model``: a pyfunc around the transformer + estimator
pipeline whose predictions are, for a classifier with ``predict_proba`` and
``predict_scores_for_all_classes`` on, a DataFrame of ``<prefix>score_<class>`` columns, ``<prefix>score``
(the highest probability) and ``<prefix>label``; otherwise the pipeline's plain predictions."""

from __future__ import annotations

from typing import Any

from fluvial.pyfunc.model import PythonModel


class WrappedRecipeModel(PythonModel):
    def __init__(self, predict_scores_for_all_classes: bool, predict_prefix: str,
                 target_column_class_labels: Any = None) -> None:
        super().__init__()
        self.predict_scores_for_all_classes = predict_scores_for_all_classes
        self.predict_prefix = predict_prefix
        self.target_column_class_labels = target_column_class_labels

    def load_context(self, context: Any) -> None:
        from fluvial.flavors.sklearn import load_model

        self._classifier = load_model(context.artifacts["model_path"])

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        label = self._classifier.predict(model_input)
        if (not hasattr(self._classifier, "classes_") or not hasattr(self._classifier, "predict_proba")
                or not self.predict_scores_for_all_classes):
            return label
        classes = (self.target_column_class_labels if self.target_column_class_labels is not None
                   else self._classifier.classes_)
        probabilities = self._classifier.predict_proba(model_input)
        out = pd.DataFrame(columns=[f"{self.predict_prefix}score_{c}" for c in classes], data=probabilities)
        out[f"{self.predict_prefix}score"] = np.max(probabilities, axis=1)
        out[f"{self.predict_prefix}label"] = label
        return out
