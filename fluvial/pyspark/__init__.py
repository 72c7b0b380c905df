"""``fluvial.pyspark`` (MLflow's ``mlflow.pyspark``): Spark integrations; see ``fluvial.pyspark.ml``."""
