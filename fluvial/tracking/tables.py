"""``log_table`` / ``load_table``: a pandas table stored as a run artifact (``.json`` in pandas' "split"
layout, or ``.parquet``), listed in the run tag ``mlflow.loggedArtifacts`` so ``load_table`` can find
every run of an experiment that logged it. Same files and tag as MLflow 2.x."""

from __future__ import annotations

import json
import logging
import os
import posixpath
import tempfile
from typing import Any

from fluvial._internal.paths import validate_relative_path
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceDoesNotExist

_logger = logging.getLogger(__name__)

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"


def _check_artifact_file(artifact_file: str) -> None:
    if not isinstance(artifact_file, str) or not artifact_file:
        raise InvalidParameterValue("artifact_file must be a non-empty string")
    validate_relative_path(artifact_file)  # the artifact layer's own check: the same errors as log_artifact
    if not artifact_file.endswith((".json", ".parquet")):
        raise InvalidParameterValue(
            f"Invalid artifact file path '{artifact_file}'. Please ensure the file you are trying to log as a "
            "table has a file name with either '.json' or '.parquet' extension."
        )


def _read(path: str) -> Any:
    import pandas as pd

    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    with open(path) as f:
        payload = json.load(f)
    return pd.DataFrame(payload["data"], columns=payload["columns"])


def _write(df: Any, path: str) -> None:
    if path.endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="split", index=False, date_format="iso")


def _existing(client: Any, run_id: str, artifact_file: str) -> Any:
    """The table already stored at ``artifact_file`` in the run, or None."""
    directory = posixpath.dirname(posixpath.normpath(artifact_file)) or None
    if artifact_file not in {f.path for f in client.list_artifacts(run_id, directory) if not f.is_dir}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return _read(client.download_artifacts(run_id, artifact_file, tmp))


def log_table_to_run(client: Any, run_id: str, data: Any, artifact_file: str) -> None:
    """Store ``data`` (a DataFrame or a dict of columns) at ``artifact_file`` of ``run_id``, appending
    its rows to a table already there, and record it in the ``mlflow.loggedArtifacts`` tag."""
    import pandas as pd

    _check_artifact_file(artifact_file)
    if isinstance(data, dict):
        try:
            data = pd.DataFrame(data)
        except ValueError:  # all scalars: one row
            data = pd.DataFrame([data])
    elif not isinstance(data, pd.DataFrame):
        raise InvalidParameterValue("data must be a pandas.DataFrame or a dictionary")
    existing = _existing(client, run_id, artifact_file)
    if existing is not None:
        data = pd.concat([existing, data], ignore_index=True)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, posixpath.basename(artifact_file))
        try:
            _write(data, local)
        except Exception as exc:
            raise MlflowException(f"Failed to save the table as {artifact_file}: the data is not serializable ({exc})") from None
        client.log_artifact(run_id, local, posixpath.dirname(artifact_file) or None)
    tags = client.get_run(run_id).data.tags
    entries = json.loads(tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    if entry not in entries:
        entries.append(entry)
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps(entries))


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a table (DataFrame or dict of columns) as a JSON or Parquet artifact of the active run (or
    ``run_id``); logging to the same file again appends rows."""
    from fluvial.tracking import fluent

    run_id = run_id or fluent._run_id()
    log_table_to_run(fluent._client(), run_id, data, artifact_file)


def load_table(
    artifact_file: str, run_ids: list[str] | None = None, extra_columns: list[str] | None = None
) -> Any:
    """Concatenate the table ``artifact_file`` of every run of the active experiment that logged it
    (only ``run_ids`` when given); ``extra_columns`` (e.g. ``["run_id"]``) copies those run fields in."""
    import pandas as pd

    from fluvial.tracking import fluent

    _check_artifact_file(artifact_file)
    client = fluent._client()
    experiment_id = fluent._resolve_experiment_id()
    pattern = f'"path"%:%"{artifact_file}",%"type"%:%"table"'
    filter_string = f"tags.`{LOGGED_ARTIFACTS_TAG}` LIKE '%{pattern}%'"
    if run_ids:
        filter_string += " and attributes.run_id IN ({})".format(",".join(repr(r) for r in run_ids))
    runs = fluent.search_runs(experiment_ids=[experiment_id], filter_string=filter_string)
    if run_ids and len(runs) != len(run_ids):
        _logger.warning("Not all runs have the specified table artifact. Some runs will be skipped.")
    frames = []
    for _, run in runs.iterrows():
        table = _existing(client, run["run_id"], artifact_file)
        if table is None:
            raise ResourceDoesNotExist(f"Artifact {artifact_file} not found for run {run['run_id']}.")
        for column in extra_columns or []:
            name = f"{column}_" if column in table else column
            table[name] = run[column]
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
