"""Optional dependencies that fail at the point of use, naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from fluvial.exceptions import MissingDependency

# top-level module -> the fluvial extra that installs it
EXTRA_FOR: dict[str, str] = {
    "sqlalchemy": "sql",
    "alembic": "sql",
    "psycopg": "postgres",
    "pymysql": "mysql",
    "pandas": "data",
    "numpy": "data",
    "starlette": "server",
    "uvicorn": "server",
    "jinja2": "server",
    "boto3": "s3",
    "sklearn": "sklearn",
    "cloudpickle": "sklearn",
    "skops": "sklearn",
    "pyspark": "spark",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "torch": "pytorch",
    "lightning": "pytorch",
    "psutil": "system-metrics",
    "statsmodels": "statsmodels",
    "catboost": "catboost",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "keras": "keras",
    "transformers": "transformers",
    "sentence_transformers": "sentence-transformers",
    "shap": "shap",
    "prophet": "prophet",
    "PIL": "dev",
    "matplotlib": "dev",
}


def missing_module_message(name: str) -> str:
    """What to install when the module ``name`` cannot be imported (one line)."""
    top = name.split(".")[0]
    extra = EXTRA_FOR.get(top)
    if extra is not None:
        return f'the Python package for {top!r} is not installed; install it with: pip install "fluvial[{extra}]"'
    return (f"the Python module {top!r} is not installed; install it (for a model: the packages in its "
            "requirements.txt, or use --env-manager virtualenv)")


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise MissingDependency with the exact pip command to run."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = extra or EXTRA_FOR.get(top, "all")
        raise MissingDependency(
            f"{module!r} is needed for this and is not installed. Install it with: "
            f'pip install "fluvial[{extra}]"'
        ) from exc
