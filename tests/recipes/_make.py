"""Recipe directories written for MLflow 2.22.5 (regression/v1 and classification/v1) with data made
here; used by the recipe tests and by bench/recipes.py."""

from __future__ import annotations

import textwrap
from pathlib import Path

REGRESSION_YAML = """\
recipe: "regression/v1"
target_col: "y"
primary_metric: "root_mean_squared_error"
steps:
  ingest: {{INGEST_CONFIG}}
  split:
    split_ratios: {{SPLIT_RATIOS|default([0.7, 0.15, 0.15])}}
  transform:
    using: custom
    transformer_method: transformer_fn
  train:
    using: custom
    estimator_method: estimator_fn
  evaluate:
    validation_criteria:
      - metric: root_mean_squared_error
        threshold: {{RMSE_THRESHOLD|default(10)}}
  register:
    allow_non_validated_model: false
custom_metrics:
  - name: weighted_mean_squared_error
    function: weighted_mean_squared_error
    greater_is_better: False
"""

CLASSIFICATION_YAML = """\
recipe: "classification/v1"
target_col: "label"
positive_class: 1
primary_metric: "f1_score"
steps:
  ingest: {{INGEST_CONFIG}}
  split:
    split_ratios: [0.7, 0.15, 0.15]
  transform:
    using: custom
    transformer_method: transformer_fn
  train:
    using: custom
    estimator_method: estimator_fn
    estimator_params:
      C: 0.5
  evaluate:
    validation_criteria:
      - metric: f1_score
        threshold: 0.5
  register:
    allow_non_validated_model: true
"""

PROFILE = """\
experiment:
  name: "recipe_exp"
model_registry:
  model_name: "{model_name}"
INGEST_CONFIG:
  using: parquet
  location: "./data/data.parquet"
"""

TRANSFORM = """\
def transformer_fn():
    from sklearn.preprocessing import StandardScaler
    return StandardScaler().set_output(transform="pandas")
"""

TRAIN_REGRESSION = """\
def estimator_fn(estimator_params=None):
    from sklearn.linear_model import LinearRegression
    return LinearRegression(**(estimator_params or {}))
"""

TRAIN_CLASSIFICATION = """\
def estimator_fn(estimator_params=None):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(**(estimator_params or {}))
"""

CUSTOM_METRICS = """\
def weighted_mean_squared_error(eval_df, builtin_metrics):
    from sklearn.metrics import mean_squared_error
    weights = 1 / eval_df["prediction"].abs().clip(lower=0.1)
    return mean_squared_error(eval_df["prediction"], eval_df["target"], sample_weight=weights)
"""


def write_data(path: Path, kind: str, rows: int = 200, seed: int = 1) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    if kind == "regression":
        df["y"] = 3 * df.a - df.b + rng.normal(size=rows) * 0.3
    else:  # "imbalanced": about 12% positives, which the train step rebalances over 5,000 training rows
        cut = 1.2 if kind == "imbalanced" else 0
        df["label"] = (df.a - 0.5 * df.b + rng.normal(size=rows) * 0.5 > cut).astype("int64")
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path)


def write_recipe(root: Path, kind: str = "regression", model_name: str = "recipe_model", rows: int = 200) -> Path:
    """A recipe directory at ``root`` (profile ``local``) for ``kind`` "regression" or "classification"."""
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "steps").mkdir(exist_ok=True)
    (root / "recipe.yaml").write_text(REGRESSION_YAML if kind == "regression" else CLASSIFICATION_YAML)
    (root / "profiles" / "local.yaml").write_text(PROFILE.format(model_name=model_name))
    (root / "steps" / "transform.py").write_text(TRANSFORM)
    (root / "steps" / "train.py").write_text(TRAIN_REGRESSION if kind == "regression" else TRAIN_CLASSIFICATION)
    (root / "steps" / "custom_metrics.py").write_text(CUSTOM_METRICS if kind == "regression" else "")
    (root / "steps" / "ingest.py").write_text(textwrap.dedent("""\
        def load_csv(path, file_format):
            import pandas as pd
            return pd.read_csv(path)
        """))
    write_data(root / "data" / "data.parquet", kind, rows)
    return root
