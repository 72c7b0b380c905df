"""``fluvial.pyspark.ml.autolog`` beside MLflow 2.22.5's ``mlflow.pyspark.ml.autolog``: the same Spark MLlib
training code runs with each (own virtualenv, own process, own local Spark JVM, one after the other) and
must log the same params, metric names and values, tags, artifacts (models included, file by file),
dataset inputs with their contexts, post-training metric keys and tuning child runs. Dataset digests are
not compared: a DataFrame's semantic hash differs between JVMs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(2400)]

SCRIPT = r'''
import json, os, sys, warnings
warnings.filterwarnings("ignore")
import logging
logging.disable(logging.WARNING)
os.environ.update({{"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}})
try:
    import pyspark
except ImportError as exc:
    emit({{"skipped": f"pyspark is not installed for {module}: {{exc}}"}})
    sys.exit(0)
import {module} as mlflow
import {module}.pyspark.ml
mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("parity.db"))
client = mlflow.MlflowClient()
IGNORED_TAGS = {{"mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName",
                "mlflow.log-model.history", "mlflow.source.git.commit", "mlflow.parentRunId"}}
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "1").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression, OneVsRest
from pyspark.ml.evaluation import MulticlassClassificationEvaluator, RegressionEvaluator
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

def artifacts(run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.extend(artifacts(run_id, f.path) if f.is_dir else [f.path])
    return sorted(out)

def describe(run):
    return {{"status": run.info.status, "params": run.data.params, "metrics": run.data.metrics,
            "tags": {{k: v for k, v in run.data.tags.items() if k not in IGNORED_TAGS}},
            "artifacts": artifacts(run.info.run_id),
            "inputs": sorted([d.dataset.name, [t.value for t in d.tags][0]] for d in run.inputs.dataset_inputs)}}

def latest():
    run_id = mlflow.last_active_run().info.run_id
    out = describe(client.get_run(run_id))
    children = client.search_runs([client.get_run(run_id).info.experiment_id], f"tags.mlflow.parentRunId = '{{run_id}}'")
    if children:
        out["children"] = sorted((describe(c) for c in children), key=lambda d: json.dumps(d["params"], sort_keys=True))
    return out, run_id

rows = [(float(i), float(i % 3), 2.0 * i - (i % 3) + 0.5, ["a", "b", "c"][i % 3]) for i in range(18)]
train = spark.createDataFrame(rows, ["x1", "x2", "label", "kind"])
assemble = VectorAssembler(inputCols=["x1", "x2"], outputCol="features")
results = {{}}
mlflow.pyspark.ml.autolog(log_input_examples=True)

model = Pipeline(stages=[assemble, LinearRegression(maxIter=5)]).fit(train)
results["pipeline"], run_id = latest()
holdout = train.limit(6)
on_train, on_holdout = model.transform(train), model.transform(holdout)
RegressionEvaluator().evaluate(on_train)
RegressionEvaluator(metricName="mae").evaluate(on_holdout)
RegressionEvaluator().evaluate(on_holdout)
results["post_training"] = describe(client.get_run(run_id))
results["metric_info"] = json.load(open(client.download_artifacts(run_id, "metric_info.json")))

lr = LinearRegression(maxIter=3)
grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.3]).addGrid(lr.fitIntercept, [True, False]).build()
CrossValidator(estimator=Pipeline(stages=[assemble, lr]), estimatorParamMaps=grid, evaluator=RegressionEvaluator(),
               numFolds=2, seed=7).fit(train)
results["cross_validator"], run_id = latest()
results["cv_files"] = {{name: open(client.download_artifacts(run_id, name)).read()
                       for name in ("best_parameters.json", "estimator_info.json", "search_results.csv")}}

TrainValidationSplit(estimator=lr, estimatorParamMaps=grid, evaluator=RegressionEvaluator(metricName="r2"),
                     trainRatio=0.7, seed=3).fit(assemble.transform(train))
results["train_validation_split"], _ = latest()

indexed = StringIndexer(inputCol="kind", outputCol="kind_idx").fit(train).transform(train)
OneVsRest(classifier=LogisticRegression(maxIter=3), labelCol="kind_idx").fit(assemble.transform(indexed))
results["one_vs_rest"], _ = latest()
spark.stop()
emit(results)
'''

SCENARIOS = ["pipeline", "post_training", "cross_validator", "train_validation_split", "one_vs_rest"]


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> dict[str, dict]:
    python = require_mlflow()
    out = {}
    for side in ("mlflow", "fluvial"):  # one after the other: one Spark JVM at a time
        cwd = Path(tmp_path_factory.mktemp(side))
        source = SCRIPT.format(module=side)
        out[side] = (run_script(python, source, cwd=cwd, timeout=1200) if side == "mlflow"
                     else run_fluvial(source, cwd=cwd, timeout=1200))
    if "skipped" in out["mlflow"]:
        pytest.skip(out["mlflow"]["skipped"])
    return out


def _files(paths: list[str]) -> list[str]:
    """Artifact paths with the random parts replaced: Spark's part-file UUIDs and stage uid suffixes."""
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return sorted(re.sub(r"_[0-9a-f]{12}(?=/|$)", "_<uid>", re.sub(uuid, "<uuid>", p)) for p in paths)


def _same_run(ours: dict, theirs: dict) -> None:
    assert ours["status"] == theirs["status"] == "FINISHED"
    assert ours["params"] == theirs["params"]
    assert ours["metrics"] == pytest.approx(theirs["metrics"], rel=1e-6, abs=1e-9)
    assert ours["tags"] == theirs["tags"]
    assert _files(ours["artifacts"]) == _files(theirs["artifacts"])
    assert ours["inputs"] == theirs["inputs"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_run_content_as_mlflow(logged, scenario):
    ours, theirs = logged["fluvial"][scenario], logged["mlflow"][scenario]
    _same_run(ours, theirs)
    assert len(ours.get("children", [])) == len(theirs.get("children", []))
    for mine, other in zip(ours.get("children", []), theirs.get("children", []), strict=True):
        _same_run(mine, other)


def test_same_metric_info_and_search_files_as_mlflow(logged):
    ours, theirs = logged["fluvial"], logged["mlflow"]
    assert ours["metric_info"] == theirs["metric_info"]
    import json

    for name in ("best_parameters.json", "estimator_info.json"):
        assert json.loads(ours["cv_files"][name]) == json.loads(theirs["cv_files"][name]), name
    mine, other = (f["search_results.csv"].splitlines() for f in (ours["cv_files"], theirs["cv_files"]))
    assert mine[0] == other[0] and len(mine) == len(other)
