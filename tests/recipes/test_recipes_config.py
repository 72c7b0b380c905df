"""Every recipe configuration error, with its message (and file:line where there is one); the Jinja2
sandbox; the one-line CLI error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fluvial.exceptions import MlflowException
from fluvial.recipes import Recipe
from tests.recipes._make import write_recipe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_RECIPES_EXECUTION_DIRECTORY", str(tmp_path / "exec"))
    return write_recipe(tmp_path / "recipe")


def _edit(root, rel, old, new):
    path = root / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new))


# (file, old text, new text, message) -> error when the Recipe is built
LOAD_ERRORS = [
    ("recipe.yaml", 'recipe: "regression/v1"\n', "", "The `recipe` property needs to be defined"),
    ("recipe.yaml", '"regression/v1"', '"forecasting/v1"', "Unknown recipe template 'forecasting/v1'"),
    ("recipe.yaml", 'target_col: "y"\n', "", "Missing target_col"),
    ("recipe.yaml", "primary_metric:", "target_col: z\nprimary_metric:", "recipe.yaml:3: duplicate key 'target_col'"),
    ("profiles/local.yaml", "experiment:", "model_registry: {}\nexperiment:", "local.yaml:4: duplicate key .model_registry."),
    ("profiles/local.yaml", "experiment:", "target_col: y\nexperiment:", "are in both recipe.yaml and"),
    ("recipe.yaml", "{{INGEST_CONFIG}}", "{{NOT_DEFINED}}", "recipe.yaml:5: undefined variable: 'NOT_DEFINED'"),
    ("recipe.yaml", "{{INGEST_CONFIG}}", "{{ ''.__class__.__mro__ }}", "unsafe template expression refused"),
    ("recipe.yaml", "{{INGEST_CONFIG}}", "{{ INGEST_CONFIG.update({'a': 1}) }}", "unsafe template expression"),
    ("recipe.yaml", "{{INGEST_CONFIG}}", "{% if %}", "template syntax error"),
    ("recipe.yaml", "steps:", "steps: [1\nx:", "invalid YAML"),
    ("recipe.yaml", "steps:", "steps: [1]\nx:", "`steps` must be a mapping"),
    ("profiles/local.yaml", "experiment:", "{{ 'x.json' | from_json }}\nexperiment:", "No such file"),
    ("profiles/local.yaml", "experiment:", "A: {{ '../../etc/passwd' | from_json }}\nexperiment:",
     "from_json may only read files inside the recipe directory"),
]


@pytest.mark.parametrize(("rel", "old", "new", "message"), LOAD_ERRORS)
def test_configuration_errors(root, rel, old, new, message):
    _edit(root, rel, old, new)
    with pytest.raises((MlflowException, OSError), match=message.replace("(", r"\(").replace("[", r"\[")):
        Recipe(profile="local", recipe_root=str(root))


def test_profile_and_root_errors(root, tmp_path):
    with pytest.raises(MlflowException, match="specified profile 'nope'"):
        Recipe(profile="nope", recipe_root=str(root))
    with pytest.raises(MlflowException, match="A profile is required"):
        Recipe(profile="", recipe_root=str(root))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MlflowException, match=r"Failed to find recipe\.yaml"):
        Recipe(profile="local", recipe_root=str(tmp_path / "empty"))


def test_from_json_filter_reads_a_file_in_the_recipe(root):
    (root / "ingest.json").write_text('{"using": "parquet", "location": "./data/data.parquet"}')
    _edit(root, "profiles/local.yaml", "INGEST_CONFIG:\n  using: parquet\n  location: \"./data/data.parquet\"\n",
          "INGEST_CONFIG: {{ 'ingest.json' | from_json }}\n")
    r = Recipe(profile="local", recipe_root=str(root))
    assert r.config["steps"]["ingest"] == {"using": "parquet", "location": "./data/data.parquet"}


# (file, old, new, step to run, message) -> error when that step runs
STEP_ERRORS = [
    ("profiles/local.yaml", "using: parquet", "using: csv", "ingest",
     "The `loader_method` configuration key must be specified for dataset with using 'csv' format"),
    ("profiles/local.yaml", "./data/data.parquet", "./data/missing.parquet", "ingest", "does not exist"),
    ("recipe.yaml", "default([0.7, 0.15, 0.15])", "default([0.7, 0.3])", "split", "must be a list of 3 positive"),
    ("recipe.yaml", "default([0.7, 0.15, 0.15])", "default([0.98, 0.01, 0.01])", "split",
     "cannot be less than 4 rows"),
    ("recipe.yaml", 'target_col: "y"', 'target_col: "zz"', "split", "Target column 'zz' not found"),
    ("recipe.yaml", "    transformer_method: transformer_fn\n", "", "transform", "Missing 'transformer_method'"),
    ("recipe.yaml", "transformer_method: transformer_fn", "transformer_method: nope", "transform",
     "steps/transform.py has no function named 'nope'"),
    ("recipe.yaml", "    estimator_method: estimator_fn\n", "", "train", "Missing 'estimator_method'"),
    ("recipe.yaml", "estimator_method: estimator_fn", "estimator_method: estimator_fn\n    tuning: {enabled: true, "
     "max_trials: 2, parameters: {}}", "train", "Hyperopt not installed and is required if tuning is enabled"),
    ("recipe.yaml", "estimator_method: estimator_fn", "estimator_method: estimator_fn\n    tuning: {max_trials: 2}",
     "train", "must include an 'enabled' key whose value is either true or false"),
    ("recipe.yaml", "estimator_method: estimator_fn", "estimator_method: estimator_fn\n    tuning: {enabled: true, "
     "parameters: {}}", "train", "The 'max_trials' configuration in the train step must be provided"),
    ("recipe.yaml", "estimator_method: estimator_fn", "estimator_method: estimator_fn\n    tuning: {enabled: true, "
     "max_trials: 2, parameters: {fit_intercept: {low: 0}}}", "train",
     "Parameter fit_intercept must contain either a list of 'values' or a 'distribution'"),
    ("recipe.yaml", "estimator_method: estimator_fn", "estimator_method: estimator_fn\n    tuning: {enabled: true, "
     "max_trials: 2, sample_fraction: 1.5, parameters: {}}", "train", "'sample_fraction' configuration in the train "
     "step must be between 0 and 1"),
    ("recipe.yaml", "estimator_method: estimator_fn", "estimator_method: estimator_fn\n    calibrate_proba: linear",
     "train", "calibrate_proba must be 'sigmoid' or 'isotonic'"),
    ("recipe.yaml", "    using: custom\n    estimator_method", "    using: automl/nope\n    estimator_method", "train",
     "Invalid train step configuration value automl/nope for key 'using'. Supported values are: "
     "\\['custom', 'automl/flaml'\\]"),
    ("recipe.yaml", "    using: custom\n    estimator_method", "    using: automl/flaml\n    estimator_method", "train",
     "train `using: automl/flaml` needs FLAML: pip install flaml"),
    ("recipe.yaml", "primary_metric: \"root_mean_squared_error\"", "primary_metric: \"mine\"", "train",
     "The primary metric 'mine' is a custom metric"),
    ("recipe.yaml", "metric: root_mean_squared_error", "metric: nope", "evaluate",
     "Validation criteria contain undefined metrics: \\['nope'\\]"),
    ("recipe.yaml", "threshold: {{RMSE_THRESHOLD|default(10)}}", "threshold: 0.0001", "register",
     "failed because it is not validated \\(status REJECTED\\)"),
    ("profiles/local.yaml", '  model_name: "recipe_model"', "  registry_uri: null", "register",
     "Missing 'model_name'"),
]


@pytest.mark.parametrize(("rel", "old", "new", "step", "message"), STEP_ERRORS, ids=[e[4][:30] for e in STEP_ERRORS])
def test_step_configuration_errors(root, rel, old, new, step, message, monkeypatch):
    pytest.importorskip("sklearn")
    for module in ("hyperopt", "flaml"):  # test dependencies: hidden the way a user without them sees it
        if module in message.lower():
            monkeypatch.setitem(sys.modules, module, None)
    _edit(root, rel, old, new)
    with pytest.raises(MlflowException, match=message) as info:
        Recipe(profile="local", recipe_root=str(root)).run(step)
    assert "Failed to run step" in str(info.value)


def test_cli_error_is_one_line_without_traceback(root):
    _edit(root, "recipe.yaml", "{{INGEST_CONFIG}}", "{{NOT_DEFINED}}")
    env = {**os.environ, "PYTHONPATH": REPO}
    out = subprocess.run([sys.executable, "-m", "fluvial", "recipes", "run", "--profile", "local"], cwd=root / "steps",
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == ["Error: recipe.yaml:5: undefined variable: 'NOT_DEFINED' is undefined"]
