"""Step options beyond the templates' defaults: csv through a loader_method, custom split and the
post-split hooks, and scoring (ingest_scoring + predict through spark_udf, needs Java)."""

from __future__ import annotations

import pandas as pd
import pytest

import fluvial
from fluvial.recipes import Recipe
from tests.recipes._make import write_recipe


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_RECIPES_EXECUTION_DIRECTORY", str(tmp_path / "exec"))
    return write_recipe(tmp_path / "recipe")


def _edit(root, rel, old, new):
    path = root / rel
    path.write_text(path.read_text().replace(old, new))


def test_csv_with_loader_method_and_directory_location(root):
    (root / "csv").mkdir()
    df = pd.read_parquet(root / "data" / "data.parquet")
    df.iloc[:100].to_csv(root / "csv" / "part1.csv", index=False)
    df.iloc[100:].to_csv(root / "csv" / "part2.csv", index=False)
    _edit(root, "profiles/local.yaml", 'using: parquet\n  location: "./data/data.parquet"',
          "using: csv\n  location: ./csv\n  loader_method: load_csv")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("ingest")
    ingested = r.get_artifact("ingested_data")
    assert len(ingested) == 200
    assert ingested["y"].tolist() == pytest.approx(df["y"].tolist())


def test_custom_split_and_post_split_hooks(root):
    (root / "steps" / "split.py").write_text(
        "import pandas as pd\n"
        "def by_sign(df):\n"
        "    return pd.Series(['TRAINING' if a > -0.3 else ('VALIDATION' if a > -1 else 'TEST') for a in df.a])\n"
        "def positive_b(df):\n"
        "    return df.b > 0\n"
        "def swap(train, val, test):\n"
        "    return train, test, val\n")
    _edit(root, "recipe.yaml", "    split_ratios: {{SPLIT_RATIOS|default([0.7, 0.15, 0.15])}}",
          "    using: custom\n    split_method: by_sign\n    post_split_filter_method: positive_b")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("split")
    train, val, test = (r.get_artifact(n) for n in ("training_data", "validation_data", "test_data"))
    assert (train.a > -0.3).all() and (train.b > 0).all()  # the filter applies to the training split only
    assert ((val.a <= -0.3) & (val.a > -1)).all() and (val.b <= 0).any()
    assert (test.a <= -1).all()
    _edit(root, "recipe.yaml", "post_split_filter_method: positive_b", "post_split_method: swap")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("split")
    assert (r.get_artifact("validation_data").a <= -1).all()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas >= 3.0.0:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning")
@pytest.mark.usefixtures("spark")  # the predict step scores on the active session, which this test must not stop
def test_scoring_with_spark_udf(root):
    _edit(root, "recipe.yaml", "  register:\n", "  ingest_scoring:\n    using: parquet\n    location: ./data/data.parquet\n"
          "  predict:\n    output:\n      using: parquet\n      location: ./scored\n  register:\n")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run()
    r.run("predict")
    assert r.last_run["executed"] == ["ingest_scoring", "predict"]
    scored = r.get_artifact("scored_data")
    model = r.get_artifact("model")
    expected = model.predict(scored.drop(columns=["prediction", "y"]))
    assert scored["prediction"].tolist() == pytest.approx(list(expected))
    assert len(pd.read_parquet(root / "scored")) == 200


def test_tuning_with_hyperopt(root):
    pytest.importorskip("hyperopt")
    (root / "steps" / "train.py").write_text(
        "def estimator_fn(params=None):\n"
        "    from sklearn.linear_model import Ridge\n"
        "    return Ridge(**(params or {}))\n"
        "def stop_early(trials, *args):\n"
        "    return len(trials.trials) >= 3, args\n")
    _edit(root, "recipe.yaml", "    estimator_method: estimator_fn\n",
          "    estimator_method: estimator_fn\n    estimator_params: {fit_intercept: true}\n    tuning:\n"
          "      enabled: true\n      algorithm: hyperopt.tpe.suggest\n      max_trials: 6\n"
          "      early_stop_fn: stop_early\n      sample_fraction: 0.8\n      parameters:\n"
          "        alpha: {distribution: uniform, low: 0.0, high: 5.0}\n")
    r = Recipe(profile="local", recipe_root=str(root))
    r.run("train")
    run = r.get_artifact("run")
    alpha = float(run.data.params["alpha"])
    assert 0.0 <= alpha <= 5.0 and alpha != 1.0  # tuned, not Ridge's default
    with open(r.ctx.output("train", "best_parameters.yaml")) as f:
        text = f.read()
    # one configured parameter: MLflow 2.22.5 keeps only the tuned ones (it re-tries estimator_params when 2+)
    assert text.startswith("# tuned hyperparameters \nalpha: ") and "# hardcoded parameters" not in text
    trials = fluvial.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert len(trials) == 3  # stopped early: one child run per trial, each with its alpha and validation metrics
    assert trials["params.alpha"].astype(float).between(0, 5).all()
    assert trials["metrics.root_mean_squared_error"].notna().all()
    assert fluvial.MlflowClient().list_artifacts(trials["run_id"][0], "train/estimator")
    _edit(root, "recipe.yaml", "algorithm: hyperopt.tpe.suggest", "algorithm: os.system")
    with pytest.raises(Exception, match="must name a hyperopt algorithm"):
        Recipe(profile="local", recipe_root=str(root)).run("train")
