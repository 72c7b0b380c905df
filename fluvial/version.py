"""fluvial's version, and the MLflow version whose behaviour it implements."""

VERSION = "0.1.0"
MLFLOW_COMPAT_VERSION = "2.22.5"
