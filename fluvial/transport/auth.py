"""Request headers a tracking client sends: User-Agent and credentials from MLflow's variables."""

from __future__ import annotations

import base64
import configparser
import os

from fluvial.version import MLFLOW_COMPAT_VERSION, VERSION


def _credentials_file() -> tuple[str | None, str | None]:
    path = os.path.join(os.path.expanduser("~"), ".mlflow", "credentials")
    if not os.path.isfile(path):
        return None, None
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section("mlflow"):
        return None, None
    section = parser["mlflow"]
    return section.get("mlflow_tracking_username"), section.get("mlflow_tracking_password")


def default_headers() -> dict[str, str]:
    headers = {"User-Agent": f"fluvial/{VERSION} (mlflow-python-client/{MLFLOW_COMPAT_VERSION} compatible)"}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not (user and password):
        file_user, file_password = _credentials_file()
        user, password = user or file_user, password or file_password
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if user and password:
        pair = base64.standard_b64encode(f"{user}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {pair}"
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
