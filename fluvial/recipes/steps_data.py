"""The data steps: ingest, split, transform, ingest_scoring, predict. Each reads its inputs from the
upstream steps' outputs, writes its own outputs, and returns what its card shows."""

from __future__ import annotations

import glob
import os
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MissingDependency, MlflowException
from fluvial.recipes.context import StepContext

SPLIT_BUCKETS = 1000
DEFAULT_RATIOS = [0.75, 0.125, 0.125]


def _spark() -> Any:
    """The active SparkSession, else a new local one whose Python workers run this interpreter."""
    import sys

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MissingDependency('This step needs Spark: pip install "fluvial[spark]" (and a Java runtime).') from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master("local[*]").appName("fluvial-recipe")
            .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1").getOrCreate())


def _locations(ctx: StepContext, location: Any, ext: str) -> list[str]:
    paths = location if isinstance(location, list) else [location]
    out: list[str] = []
    for p in paths:
        if not isinstance(p, str):
            raise InvalidParameterValue(f"`location` must be a path or a list of paths, not {p!r}")
        full = p[len("file://"):] if p.startswith("file://") else p
        full = full if os.path.isabs(full) else os.path.join(ctx.root, full)
        if os.path.isdir(full):
            found = sorted(glob.glob(os.path.join(full, "**", f"*.{ext}"), recursive=True))
            if not found:
                raise InvalidParameterValue(f"The directory {p} holds no *.{ext} file")
            out += found
        elif os.path.exists(full):
            out.append(full)
        else:
            raise InvalidParameterValue(f"The dataset location {p} does not exist (resolved to {full})")
    return out


def read_dataset(ctx: StepContext, conf: dict[str, Any], step: str) -> Any:
    import pandas as pd

    using = conf.get("using")
    if not using:
        raise InvalidParameterValue(f"The `using` configuration key must be specified for step '{step}'.")
    if using == "spark_sql":
        if not conf.get("sql"):
            raise InvalidParameterValue("The `sql` configuration key must be specified for `using: spark_sql`.")
        return _spark().sql(conf["sql"]).toPandas()
    if using == "delta":
        reader = _spark().read.format("delta")
        if "version" in conf:
            reader = reader.option("versionAsOf", conf["version"])
        if "timestamp" in conf:
            reader = reader.option("timestampAsOf", conf["timestamp"])
        return reader.load(conf["location"]).toPandas()
    if "location" not in conf:
        raise InvalidParameterValue(f"The `location` configuration key must be specified for step '{step}'.")
    files = _locations(ctx, conf["location"], using)
    if using == "parquet":
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    if not conf.get("loader_method"):
        raise InvalidParameterValue(f"The `loader_method` configuration key must be specified for dataset with "
                                    f"using '{using}' format")
    loader = ctx.user_function("ingest", conf["loader_method"], "loader_method")
    frames = [loader(f, using) for f in files]
    if not all(isinstance(f, pd.DataFrame) for f in frames):
        raise MlflowException(f"loader_method {conf['loader_method']!r} must return a pandas DataFrame")
    return pd.concat(frames, ignore_index=True)


def ingest(ctx: StepContext, step: str = "ingest", out_name: str = "dataset.parquet") -> dict[str, Any]:
    df = read_dataset(ctx, ctx.step_conf(step), step)
    df.to_parquet(ctx.output(step, out_name))
    return {"rows": len(df), "tables": {} if ctx.step_conf(step).get("skip_data_profiling") else {"ingested": df}}


def ingest_scoring(ctx: StepContext) -> dict[str, Any]:
    return ingest(ctx, "ingest_scoring", "scoring-dataset.parquet")


def hash_buckets(df: Any) -> Any:
    """MLflow's stable split: the pandas hash of each row (index included) into 1000 buckets in [0, 1)."""
    import numpy as np
    import pandas as pd

    def hashable(v: Any) -> Any:
        if isinstance(v, list):
            return tuple(hashable(e) for e in v)
        if isinstance(v, dict):
            return tuple((hashable(k), hashable(x)) for k, x in v.items())
        if isinstance(v, np.ndarray):
            return v.shape, tuple(v.flatten(order="C"))
        return v

    needs_map = any(df[c].dtype == object for c in df.columns)
    frame = df.map(hashable) if needs_map else df
    return pd.util.hash_pandas_object(frame).map(lambda x: (x % SPLIT_BUCKETS) / SPLIT_BUCKETS)


def _split_one(df: Any, ratios: list[float]) -> tuple[Any, Any, Any]:
    buckets = hash_buckets(df)
    total = sum(ratios)
    train_end, val_end = ratios[0] / total, (ratios[0] + ratios[1]) / total
    return df[buckets < train_end], df[(buckets >= train_end) & (buckets < val_end)], df[buckets >= val_end]


def split(ctx: StepContext) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    conf = ctx.step_conf("split")
    df = pd.read_parquet(ctx.output("ingest", "dataset.parquet"))
    if ctx.target not in df.columns:
        raise InvalidParameterValue(f"Target column '{ctx.target}' not found in ingested dataset.")
    raw_rows = len(df)
    df = df.dropna(how="any", subset=[ctx.target])
    using = conf.get("using", "split_ratios")
    if using == "custom":
        if not conf.get("split_method"):
            raise InvalidParameterValue("`split_method` must be specified for `using: custom` in the split step.")
        labels = pd.Series(ctx.user_function("split", conf["split_method"], "split_method")(df))
        if not set(labels.unique()) <= {"TRAINING", "VALIDATION", "TEST"}:
            raise MlflowException("split_method must return a Series of TRAINING / VALIDATION / TEST")
        labels.index = df.index
        parts = tuple(df[labels == name] for name in ("TRAINING", "VALIDATION", "TEST"))
    elif using == "split_ratios":
        ratios = conf.get("split_ratios", DEFAULT_RATIOS)
        if not (isinstance(ratios, list) and len(ratios) == 3 and all(
                isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0 for r in ratios)):
            raise InvalidParameterValue("Config for split step is not valid: `split_ratios` must be a list of 3 "
                                        f"positive numbers, got {ratios!r}")
        if ctx.is_classification:
            pieces = [_split_one(df[df[ctx.target] == c], ratios) for c in np.unique(df[ctx.target])]
            parts = tuple(pd.concat([p[i] for p in pieces]) for i in range(3))
        else:
            parts = _split_one(df, ratios)
    else:
        raise InvalidParameterValue(f"Unknown split `using: {using}`: use split_ratios or custom.")
    train, val, test = parts
    if conf.get("post_split_method"):
        fn = ctx.user_function("split", conf["post_split_method"], "post_split_method")
        train, val, test = fn(train, val, test)
    elif conf.get("post_split_filter_method"):
        fn = ctx.user_function("split", conf["post_split_filter_method"], "post_split_filter_method")
        train = train[fn(train)]
    if min(len(train), len(val), len(test)) < 4:
        raise MlflowException(f"Train, validation, and testing datasets cannot be less than 4 rows. Train has "
                              f"{len(train)} rows, validation has {len(val)} rows, and test has {len(test)} rows.")
    for name, part in (("train", train), ("validation", val), ("test", test)):
        part.to_parquet(ctx.output("split", f"{name}.parquet"))
    return {"rows": {"train": len(train), "validation": len(val), "test": len(test),
                     "dropped (missing target)": raw_rows - len(df)},
            "tables": {} if conf.get("skip_data_profiling") else {"train": train, "validation": val, "test": test}}


class _Identity:
    def fit(self, X: Any, y: Any = None) -> _Identity:
        return self

    def transform(self, X: Any) -> Any:
        return X


def transform(ctx: StepContext) -> dict[str, Any]:
    import cloudpickle
    import pandas as pd

    conf = ctx.step_conf("transform")
    if conf.get("using", "custom") != "custom":
        raise InvalidParameterValue(f"Unknown transform `using: {conf['using']}`: only custom is supported.")
    if not conf.get("transformer_method"):
        raise InvalidParameterValue("Missing 'transformer_method' configuration in the transform step, which is "
                                    "using 'custom'.")
    transformer = ctx.user_function("transform", conf["transformer_method"], "transformer_method")()
    if transformer is None:
        from sklearn.preprocessing import FunctionTransformer

        transformer = FunctionTransformer()
    train = pd.read_parquet(ctx.output("split", "train.parquet"))
    val = pd.read_parquet(ctx.output("split", "validation.parquet"))
    X = train.drop(columns=[ctx.target])
    transformer.fit(X, train[ctx.target])

    def apply(df: Any) -> Any:
        out = transformer.transform(df.drop(columns=[ctx.target]))
        if hasattr(out, "toarray"):
            out = out.toarray()
        if not isinstance(out, pd.DataFrame):
            names = transformer.get_feature_names_out() if hasattr(transformer, "get_feature_names_out") else None
            out = pd.DataFrame(out, columns=names) if names is not None else pd.DataFrame(out)
            out.columns = [str(c) for c in out.columns]
        out = out.reset_index(drop=True)
        out[ctx.target] = df[ctx.target].to_numpy()
        return out

    t_train, t_val = apply(train), apply(val)
    with open(ctx.output("transform", "transformer.pkl"), "wb") as f:
        cloudpickle.dump(transformer, f)
    t_train.to_parquet(ctx.output("transform", "transformed_training_data.parquet"))
    t_val.to_parquet(ctx.output("transform", "transformed_validation_data.parquet"))
    return {"tables": {"transformed training data": t_train}}


def predict(ctx: StepContext) -> dict[str, Any]:
    """Score the scoring dataset with the registered model through ``spark_udf`` (needs PySpark)."""
    import json

    from fluvial.pyfunc import spark_udf

    conf = ctx.step_conf("predict")
    output = conf.get("output") or {}
    if not output.get("using") or not output.get("location"):
        raise InvalidParameterValue("The predict step needs `output: {using: parquet|delta|table, location: ...}`.")
    model_uri = conf.get("model_uri")
    if model_uri is None:
        info_path = ctx.output("register", "registered_model_version.json")
        if os.path.exists(info_path):
            with open(info_path) as f:
                info = json.load(f)
            model_uri = f"models:/{info['registered_model_name']}/{info['registered_model_version']}"
        else:
            model_uri = f"models:/{(ctx.config.get('model_registry') or {}).get('model_name')}/latest"
    ctx.apply_tracking()
    spark = _spark()
    pdf = __import__("pandas").read_parquet(ctx.output("ingest_scoring", "scoring-dataset.parquet"))
    sdf = spark.createDataFrame(pdf)
    udf = spark_udf(spark, model_uri, result_type=conf.get("result_type", "double"), env_manager="local")
    from pyspark.sql.functions import struct

    scored = sdf.withColumn("prediction", udf(struct(*[sdf[c] for c in sdf.columns])))
    mode = conf.get("save_mode", "overwrite")
    writer = scored.write.mode(mode)
    if output["using"] == "table":
        writer.saveAsTable(output["location"])
    else:
        writer.format(output["using"]).save(os.path.join(ctx.root, output["location"]))
    result = scored.toPandas()
    result.to_parquet(ctx.output("predict", "scored.parquet"))
    return {"rows": len(result), "tables": {"scored": result}}
