"""``fluvial.pyspark.ml`` (MLflow's ``mlflow.pyspark.ml``): autologging of Spark MLlib estimators."""

from fluvial.flavors.spark.autolog import autolog

__all__ = ["autolog"]
