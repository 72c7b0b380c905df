"""Spark MLlib models cross between MLflow 2.22.5 (its own virtualenv, with pyspark) and fluvial both ways:
the other side's ``load_model`` transforms and its pyfunc predicts the same, and the MLmodel flavor
entries and the inferred signature are MLflow's. Three subprocesses, each with its own local Spark JVM
(fluvial saves; MLflow loads fluvial's model and saves its own; fluvial loads MLflow's)."""

from __future__ import annotations

import pytest
import yaml

from tests.compat._mlflow import require_mlflow, run_fluvial, run_script

pytestmark = [pytest.mark.compat, pytest.mark.slow, pytest.mark.timeout(2400)]

PRELUDE = '''
import os, sys, warnings
warnings.filterwarnings("ignore")
os.environ.update({{"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}})
out = {{}}
try:
    import pyspark
except ImportError as exc:
    out["skipped"] = f"pyspark is not installed for {module}: {{exc}}"
if "skipped" not in out:
    import numpy as np, pandas as pd
    import {module} as mlflow
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    X = pd.DataFrame({{"x1": np.linspace(0.0, 5.0, 20), "x2": np.cos(np.linspace(0.0, 5.0, 20))}})
    def transformed(model):
        df = spark.createDataFrame(X)
        return [r.prediction for r in model.transform(df).select("prediction").collect()]
    def save(dst):
        from pyspark.ml import Pipeline
        from pyspark.ml.feature import VectorAssembler
        from pyspark.ml.regression import LinearRegression
        train = X.assign(label=2.0 * X.x1 - X.x2 + 0.5)
        model = Pipeline(stages=[VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
                                 LinearRegression(maxIter=5)]).fit(spark.createDataFrame(train))
        mlflow.spark.save_model(model, dst, input_example=X.head(3), pip_requirements=["pyspark"])
        out["saved"] = transformed(model)
    def load(src):
        out["loaded"] = transformed(mlflow.spark.load_model(src))
        out["pyfunc"] = [float(v) for v in mlflow.pyfunc.load_model(src).predict(X)]
'''


def _run(module: str, body: str, tmp_path) -> dict:
    script = PRELUDE.format(module=module) + "if 'skipped' not in out:\n" + body + "\nemit(out)\n"
    if module == "mlflow":
        result = run_script(require_mlflow(), script, str(tmp_path), cwd=tmp_path, name="mlflow_spark.py", timeout=900)
    else:
        result = run_fluvial(script, str(tmp_path), cwd=tmp_path, name="fluvial_spark.py", timeout=900)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    return result


def test_spark_models_cross_both_ways(tmp_path):
    require_mlflow()
    fluvial_saved = _run("fluvial", '    save(sys.argv[1] + "/by-fluvial")', tmp_path)
    mlflow_side = _run("mlflow", '    load(sys.argv[1] + "/by-fluvial")\n    save(sys.argv[1] + "/by-mlflow")', tmp_path)
    fluvial_loaded = _run("fluvial", '    load(sys.argv[1] + "/by-mlflow")', tmp_path)

    # MLflow loads fluvial's model: the same predictions through load_model and pyfunc
    assert mlflow_side["loaded"] == pytest.approx(fluvial_saved["saved"], rel=1e-9)
    assert mlflow_side["pyfunc"] == pytest.approx(fluvial_saved["saved"], rel=1e-9)
    # fluvial loads MLflow's
    assert fluvial_loaded["loaded"] == pytest.approx(mlflow_side["saved"], rel=1e-9)
    assert fluvial_loaded["pyfunc"] == pytest.approx(mlflow_side["saved"], rel=1e-9)

    metas = {side: yaml.safe_load((tmp_path / side / "MLmodel").read_text()) for side in ("by-fluvial", "by-mlflow")}
    fluvial_meta, mlflow_meta = metas["by-fluvial"], metas["by-mlflow"]
    assert fluvial_meta["flavors"]["spark"] == mlflow_meta["flavors"]["spark"]
    for key in ("loader_module", "data", "env", "code"):
        assert fluvial_meta["flavors"]["python_function"].get(key) == mlflow_meta["flavors"]["python_function"].get(key), key
    assert fluvial_meta["signature"] == mlflow_meta["signature"]
    assert fluvial_meta["saved_input_example_info"] == mlflow_meta["saved_input_example_info"]
    assert sorted(p.name for p in (tmp_path / "by-fluvial").iterdir()) == \
        sorted(p.name for p in (tmp_path / "by-mlflow").iterdir())
