"""Import an MLflow 2.x file store (``./mlruns``) into a SQL tracking database.

The file layout (tracking reference §13)::

    <root>/<experiment id>/meta.yaml            name, artifact_location, lifecycle_stage, times
    <root>/<experiment id>/tags/<key>           experiment tags (keys with '/' are sub-directories)
    <root>/<experiment id>/datasets/<id>/meta.yaml
    <root>/<experiment id>/<run id>/meta.yaml   run info; status and source_type as integers
    <root>/<experiment id>/<run id>/params|tags/<key>    raw values
    <root>/<experiment id>/<run id>/metrics/<key>        "<timestamp> <value> [<step>]" per line
    <root>/<experiment id>/<run id>/inputs/<id>/meta.yaml dataset links with their tags
    <root>/.trash/<experiment id>/...           deleted experiments

The source is only read. Every experiment is written in one transaction with SQLAlchemy Core on
MLflow's schema. Artifacts are not copied: runs keep their artifact URIs, which point into the file
store's directory. File-store experiment ids are large random integers; one is kept as the SQL
``experiment_id`` when it fits the 32-bit INTEGER column and is free, otherwise a new id is assigned
(the report maps old to new). Importing into a database that already holds an experiment of the same
name (or a run with the same id) is refused before anything is written.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fluvial._internal.uri import scheme_of
from fluvial.entities import LifecycleStage, RunStatus, SourceType
from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceAlreadyExists
from fluvial.store.tracking.sql import migrations
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import get_engine, normalize_db_uri, read_connection, write_transaction
from fluvial.store.tracking.sql.loading import encode_metric_value
from fluvial.store.tracking.sql.statements import insert_ignore, upsert

TRASH = ".trash"
META = "meta.yaml"
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces"})
MAX_EXPERIMENT_ID = 2**31 - 1  # experiments.experiment_id is a 32-bit INTEGER on PostgreSQL and MySQL
SUPPORTED_DIALECTS = ("sqlite", "postgresql", "mysql")
RUN_NAME_TAG = "mlflow.runName"
DEFAULT_EXPERIMENT_NAME = "Default"


@dataclass
class SourceExperiment:
    source_id: str
    directory: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    runs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (run directory, meta)


@dataclass
class ImportedExperiment:
    source_id: str
    experiment_id: int
    name: str
    lifecycle_stage: str
    runs: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    datasets: int = 0
    inputs: int = 0

    @property
    def id_changed(self) -> bool:
        return str(self.experiment_id) != self.source_id


@dataclass
class ImportReport:
    source: str
    target: str
    experiments: list[ImportedExperiment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(e, attr) for e in self.experiments)


# ---- reading the file store -------------------------------------------------------------------------


def _read_text(path: str) -> str:
    with open(path, "rb") as fh:  # read-only, and no newline translation: values are kept byte for byte
        return fh.read().decode("utf-8")


def _read_yaml(path: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(_read_text(path), Loader=loader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InvalidParameterValue(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}. "
                                    "Fix or remove that file, then run the command again.") from None
    if data is not None and not isinstance(data, dict):
        raise InvalidParameterValue(f"{path} must hold a mapping of fields, not {type(data).__name__}. "
                                    "Fix or remove that file, then run the command again.")
    return data


def _read_key_files(directory: str) -> dict[str, str]:
    """``{key: file content}`` for every file under ``directory``; sub-directories give keys with '/'."""
    found: dict[str, str] = {}
    if not os.path.isdir(directory):
        return found
    for parent, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(parent, name)
            found[os.path.relpath(path, directory).replace(os.sep, "/")] = _read_text(path)
    return found


def _subdirs(directory: str) -> list[str]:
    if not os.path.isdir(directory):
        return []
    return sorted(e.name for e in os.scandir(directory) if e.is_dir(follow_symlinks=False))


def find_file_store(source: str) -> str:
    """The file store root: ``source`` itself, or ``source/mlruns``."""
    source = os.path.abspath(source)

    def looks_like_store(path: str) -> bool:
        return os.path.isdir(os.path.join(path, TRASH)) or any(
            name.isdigit() and os.path.isfile(os.path.join(path, name, META)) for name in _subdirs(path)
        )

    if not os.path.isdir(source):
        raise InvalidParameterValue(f"Source directory does not exist: {source}")
    if looks_like_store(source):
        return source
    nested = os.path.join(source, "mlruns")
    if looks_like_store(nested):
        return nested
    raise InvalidParameterValue(
        f"No MLflow file store found at {source}: expected experiment directories like {source}/0/meta.yaml "
        f"(or {source}/mlruns/0/meta.yaml)."
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _experiment_dirs(root: str) -> Iterator[tuple[str, bool]]:
    for name in _subdirs(root):
        if name.isdigit():
            yield os.path.join(root, name), False
    for name in _subdirs(os.path.join(root, TRASH)):
        if name.isdigit():
            yield os.path.join(root, TRASH, name), True


def scan(root: str, warnings: list[str]) -> list[SourceExperiment]:
    """Every experiment (active and in ``.trash``) with its runs' meta.yaml; nothing else is read yet."""
    experiments: list[SourceExperiment] = []
    for directory, in_trash in _experiment_dirs(root):
        meta_path = os.path.join(directory, META)
        if not os.path.isfile(meta_path):
            warnings.append(f"skipped {directory}: no {META}")
            continue
        meta = _read_yaml(meta_path) or {}
        source_id = str(meta.get("experiment_id", os.path.basename(directory)))
        if source_id != os.path.basename(directory):
            warnings.append(f"skipped {directory}: its {META} names experiment id {source_id}")
            continue
        stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
        experiment = SourceExperiment(
            source_id=source_id,
            directory=directory,
            name=str(meta.get("name", "")),
            artifact_location=meta.get("artifact_location"),
            lifecycle_stage=LifecycleStage.DELETED if in_trash else stage,
            creation_time=_int_or_none(meta.get("creation_time")),
            last_update_time=_int_or_none(meta.get("last_update_time")),
        )
        if not experiment.name:
            raise InvalidParameterValue(f"Experiment {source_id} has no name in {meta_path}")
        for run_dir_name in _subdirs(directory):
            if run_dir_name in RESERVED_EXPERIMENT_FOLDERS:
                continue
            run_dir = os.path.join(directory, run_dir_name)
            run_meta_path = os.path.join(run_dir, META)
            if not os.path.isfile(run_meta_path):
                warnings.append(f"skipped {run_dir}: no {META}")
                continue
            run_meta = _read_yaml(run_meta_path) or {}
            run_id = str(run_meta.get("run_uuid") or run_meta.get("run_id") or "")
            if run_id != run_dir_name:
                warnings.append(f"skipped {run_dir}: its {META} names run id {run_id!r}")
                continue
            if str(run_meta.get("experiment_id")) != source_id:
                warnings.append(f"skipped {run_dir}: its {META} names experiment id {run_meta.get('experiment_id')}")
                continue
            experiment.runs.append((run_dir, run_meta))
        experiments.append(experiment)
    _check_unique(experiments)
    return experiments


def _check_unique(experiments: list[SourceExperiment]) -> None:
    for attr in ("source_id", "name"):
        seen: dict[str, str] = {}
        for e in experiments:
            value = getattr(e, attr)
            if value in seen:
                raise InvalidParameterValue(
                    f"The file store has two experiments with {attr} {value!r}: {seen[value]} and {e.directory}"
                )
            seen[value] = e.directory
    runs: dict[str, str] = {}
    for e in experiments:
        for run_dir, _meta in e.runs:
            run_id = os.path.basename(run_dir)
            if run_id in runs:
                raise InvalidParameterValue(f"The file store has run {run_id} twice: {runs[run_id]} and {run_dir}")
            runs[run_id] = run_dir


def _metric_points(content: str, key: str, run_dir: str) -> list[tuple[int, float, int]]:
    points = []
    for number, line in enumerate(content.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) not in (2, 3):
                raise ValueError
            points.append((int(fields[0]), float(fields[1]), int(fields[2]) if len(fields) == 3 else 0))
        except ValueError:
            raise InvalidParameterValue(
                f"Malformed line {number} of metric {key!r} in {run_dir}/metrics: {line!r}"
            ) from None
    return points


def _enum_name(value: Any, enum: Any, default: str) -> str:
    if isinstance(value, str) and value in enum.__members__:
        return value
    try:
        return str(enum(int(value)).name)
    except (TypeError, ValueError):
        return default


# ---- writing ----------------------------------------------------------------------------------------


class _LengthCheck:
    """On databases that enforce VARCHAR lengths, a clear error before the insert instead of a driver error."""

    def __init__(self, dialect: str) -> None:
        self.enabled = dialect != "sqlite"

    def __call__(self, table: sa.Table, row: dict[str, Any], where: str) -> None:
        if not self.enabled:
            return
        for name, value in row.items():
            length = getattr(table.c[name].type, "length", None)
            if isinstance(value, str) and length is not None and len(value) > length:
                raise InvalidParameterValue(
                    f"{where}: {name} has {len(value)} characters, more than the {table.name}.{name} column "
                    f"holds ({length}). Nothing of this experiment was imported."
                )


def _latest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per key: the greatest (step, timestamp, stored value), the rule the SQL store applies."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        current = latest.get(row["key"])
        if current is None or (row["step"], row["timestamp"], row["value"]) > (
            current["step"], current["timestamp"], current["value"]
        ):
            latest[row["key"]] = row
    return list(latest.values())


def _import_run(
    conn: sa.Connection,
    run_dir: str,
    meta: dict[str, Any],
    experiment_id: int,
    datasets: dict[str, str],
    counts: ImportedExperiment,
    check: _LengthCheck,
    warnings: list[str],
) -> None:
    run_id = os.path.basename(run_dir)
    params = _read_key_files(os.path.join(run_dir, "params"))
    tags = _read_key_files(os.path.join(run_dir, "tags"))
    run_name = str(meta.get("run_name") or tags.get(RUN_NAME_TAG) or "")
    if run_name and RUN_NAME_TAG not in tags:
        tags[RUN_NAME_TAG] = run_name
    stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
    if not LifecycleStage.is_valid(stage):
        raise InvalidParameterValue(f"Run {run_id} has an unknown lifecycle_stage {stage!r} in {run_dir}/{META}")
    row = {
        "run_uuid": run_id,
        "name": run_name,
        "source_type": _enum_name(meta.get("source_type"), SourceType, SourceType.UNKNOWN.name),
        "source_name": str(meta.get("source_name") or ""),
        "entry_point_name": str(meta.get("entry_point_name") or ""),
        "user_id": str(meta.get("user_id") or ""),
        "status": _enum_name(meta.get("status", RunStatus.RUNNING), RunStatus, RunStatus.RUNNING.name),
        "start_time": _int_or_none(meta.get("start_time")),
        "end_time": _int_or_none(meta.get("end_time")),
        "deleted_time": _int_or_none(meta.get("deleted_time")),
        "source_version": str(meta.get("source_version") or ""),
        "lifecycle_stage": stage,
        "artifact_uri": meta.get("artifact_uri") or "",
        "experiment_id": experiment_id,
    }
    where = f"run {run_id}"
    check(s.runs, row, where)
    param_rows = [{"key": k, "value": v, "run_uuid": run_id} for k, v in params.items()]
    tag_rows = [{"key": k, "value": v, "run_uuid": run_id} for k, v in tags.items()]
    for r in param_rows:
        check(s.params, r, where)
    for r in tag_rows:
        check(s.tags, r, where)
    points: dict[tuple[Any, ...], dict[str, Any]] = {}  # an exact repeat of a point is one row (the primary key)
    for key, content in _read_key_files(os.path.join(run_dir, "metrics")).items():
        for timestamp, value, step in _metric_points(content, key, run_dir):
            stored, is_nan = encode_metric_value(value)
            points.setdefault(
                (key, timestamp, step, stored, is_nan),
                {"key": key, "value": stored, "timestamp": timestamp, "step": step, "is_nan": is_nan, "run_uuid": run_id},
            )
    metric_rows = list(points.values())
    for r in metric_rows[:1]:
        check(s.metrics, r, where)

    conn.execute(sa.insert(s.runs), row)
    if param_rows:
        conn.execute(sa.insert(s.params), param_rows)
    if tag_rows:
        conn.execute(sa.insert(s.tags), tag_rows)
    if metric_rows:
        insert_ignore(conn, s.metrics, metric_rows)
        upsert(
            conn,
            s.latest_metrics,
            _latest_rows(metric_rows),
            keys=("key", "run_uuid"),
            update=("value", "timestamp", "step", "is_nan"),
            newer_by=("step", "timestamp", "value"),
        )
    counts.runs += 1
    counts.params += len(param_rows)
    counts.tags += len(tag_rows)
    counts.metric_points += len(metric_rows)
    counts.inputs += _import_inputs(conn, run_dir, run_id, datasets, warnings)


def _import_datasets(
    conn: sa.Connection, directory: str, experiment_id: int, check: _LengthCheck
) -> dict[str, str]:
    """Insert the experiment's datasets; ``{dataset directory name: dataset_uuid}``."""
    by_dir: dict[str, str] = {}
    by_key: dict[tuple[str, str], str] = {}
    datasets_dir = os.path.join(directory, "datasets")
    for name in _subdirs(datasets_dir):
        meta_path = os.path.join(datasets_dir, name, META)
        if not os.path.isfile(meta_path):
            continue
        meta = _read_yaml(meta_path) or {}
        key = (str(meta.get("name", "")), str(meta.get("digest", "")))
        if key in by_key:
            by_dir[name] = by_key[key]
            continue
        dataset_uuid = uuid.uuid4().hex
        row: dict[str, Any] = {
            "dataset_uuid": dataset_uuid,
            "experiment_id": experiment_id,
            "name": key[0],
            "digest": key[1],
            "dataset_source_type": str(meta.get("source_type", "")),
            "dataset_source": str(meta.get("source", "")),
            "dataset_schema": meta.get("schema"),
            "dataset_profile": meta.get("profile"),
        }
        check(s.datasets, row, f"dataset {meta_path}")
        conn.execute(sa.insert(s.datasets), row)
        by_dir[name] = by_key[key] = dataset_uuid
    return by_dir


def _import_inputs(
    conn: sa.Connection, run_dir: str, run_id: str, datasets: dict[str, str], warnings: list[str]
) -> int:
    inputs_dir = os.path.join(run_dir, "inputs")
    linked: set[str] = set()
    for name in _subdirs(inputs_dir):
        meta_path = os.path.join(inputs_dir, name, META)
        if not os.path.isfile(meta_path):
            continue
        meta = _read_yaml(meta_path) or {}
        if meta.get("source_type", "DATASET") != "DATASET":
            warnings.append(f"skipped input {meta_path}: only dataset inputs are imported")
            continue
        dataset_uuid = datasets.get(str(meta.get("source_id")))
        if dataset_uuid is None:
            warnings.append(f"skipped input {meta_path}: dataset {meta.get('source_id')} is not in the experiment")
            continue
        if dataset_uuid in linked:
            continue
        linked.add(dataset_uuid)
        input_uuid = uuid.uuid4().hex
        conn.execute(
            sa.insert(s.inputs),
            {
                "input_uuid": input_uuid,
                "source_type": "DATASET",
                "source_id": dataset_uuid,
                "destination_type": "RUN",
                "destination_id": run_id,
            },
        )
        tag_rows = [{"input_uuid": input_uuid, "name": str(k), "value": str(v)} for k, v in (meta.get("tags") or {}).items()]
        if tag_rows:
            conn.execute(sa.insert(s.input_tags), tag_rows)
    return len(linked)


def _fix_id_sequence(conn: sa.Connection) -> None:
    """After explicit experiment ids, move PostgreSQL's SERIAL sequence past the largest id."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
            "GREATEST(MAX(experiment_id), 1), MAX(experiment_id) >= 1) FROM experiments"
        )


def _import_experiment(
    engine: sa.Engine,
    source: SourceExperiment,
    experiment_id: int,
    replace_default: bool,
    warnings: list[str],
) -> ImportedExperiment:
    counts = ImportedExperiment(source.source_id, experiment_id, source.name, source.lifecycle_stage)
    check = _LengthCheck(engine.dialect.name)
    e = s.experiments
    row = {
        "experiment_id": experiment_id,
        "name": source.name,
        "artifact_location": source.artifact_location,
        "lifecycle_stage": source.lifecycle_stage,
        "creation_time": source.creation_time,
        "last_update_time": source.last_update_time,
    }
    check(e, row, f"experiment {source.source_id}")
    tags = _read_key_files(os.path.join(source.directory, "tags"))
    tag_rows = [{"key": k, "value": v, "experiment_id": experiment_id} for k, v in tags.items()]
    for r in tag_rows:
        check(s.experiment_tags, r, f"experiment {source.source_id}")
    with write_transaction(engine) as conn:
        if replace_default:
            conn.execute(sa.update(e).where(e.c.experiment_id == experiment_id).values(row))
        else:
            if experiment_id == 0 and conn.dialect.name == "mysql":
                conn.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
            conn.execute(sa.insert(e), row)
        if tag_rows:
            conn.execute(sa.insert(s.experiment_tags), tag_rows)
        counts.tags += len(tag_rows)
        datasets = _import_datasets(conn, source.directory, experiment_id, check)
        counts.datasets = len(set(datasets.values()))
        for run_dir, meta in source.runs:
            _import_run(conn, run_dir, meta, experiment_id, datasets, counts, check, warnings)
        _fix_id_sequence(conn)
    return counts


# ---- planning ---------------------------------------------------------------------------------------


def _plan_ids(conn: sa.Connection, experiments: list[SourceExperiment]) -> tuple[dict[str, int], str | None]:
    """({source id: SQL id}, source id of a Default experiment that replaces the target's unused one).

    Raises ResourceAlreadyExists when the target already holds one of the experiments or runs."""
    e, r = s.experiments, s.runs
    existing = {row.name: row.experiment_id for row in conn.execute(sa.select(e.c.experiment_id, e.c.name))}
    replace_default: str | None = None
    clashes = []
    for exp in experiments:
        if exp.name not in existing:
            continue
        target_id = existing[exp.name]
        if exp.name == DEFAULT_EXPERIMENT_NAME and target_id == 0 and _is_unused(conn, 0):
            replace_default = exp.source_id
        else:
            clashes.append(f"{exp.name!r} (id {target_id})")
    if clashes:
        raise ResourceAlreadyExists(
            f"The target database already has experiments named {', '.join(clashes)}; this file store looks "
            "imported already. Nothing was imported. Import into a new database, or delete or rename those "
            "experiments first."
        )
    run_ids = [os.path.basename(d) for exp in experiments for d, _ in exp.runs]
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        found = [row[0] for row in conn.execute(sa.select(r.c.run_uuid).where(r.c.run_uuid.in_(chunk)))]
        if found:
            raise ResourceAlreadyExists(
                f"The target database already has runs with ids {', '.join(sorted(found)[:5])}"
                f"{' ...' if len(found) > 5 else ''}. Nothing was imported."
            )
    taken = set(existing.values())
    ids: dict[str, int] = {}
    ordered = sorted(experiments, key=lambda x: (x.creation_time or 0, int(x.source_id)))
    for exp in ordered:
        if exp.source_id == replace_default:
            ids[exp.source_id] = 0
            continue
        wanted = int(exp.source_id)
        if wanted <= MAX_EXPERIMENT_ID and wanted not in taken:
            ids[exp.source_id] = wanted
            taken.add(wanted)
    next_id = max(taken, default=0) + 1
    for exp in ordered:
        if exp.source_id not in ids:
            ids[exp.source_id] = next_id
            next_id += 1
    return ids, replace_default


def _is_unused(conn: sa.Connection, experiment_id: int) -> bool:
    """True for an experiment that holds nothing: no runs, tags or datasets (the auto-created Default)."""
    for table in (s.runs, s.experiment_tags, s.datasets):
        if conn.execute(sa.select(table.c.experiment_id).where(table.c.experiment_id == experiment_id).limit(1)).first():
            return False
    return True


def import_filestore(source: str, target: str, progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import the file store at ``source`` (or ``source/mlruns``) into the database at ``target``."""
    if scheme_of(target) not in SUPPORTED_DIALECTS:
        raise InvalidParameterValue(
            f"--target must be a database URL ({', '.join(d + '://...' for d in SUPPORTED_DIALECTS)}), got {target!r}"
        )
    root = find_file_store(source)
    report = ImportReport(root, target)
    experiments = scan(root, report.warnings)
    if os.path.isdir(os.path.join(root, "models")):
        report.warnings.append(f"{root}/models (the model registry) is not imported")
    if any(os.path.isdir(os.path.join(e.directory, "traces")) for e in experiments):
        report.warnings.append("traces are not imported")
    if target.startswith("sqlite:///"):
        path = normalize_db_uri(target)[len("sqlite:///"):]
        parent = os.path.dirname(path)
        if path != ":memory:" and parent and not os.path.isdir(parent):
            raise InvalidParameterValue(f"The directory of the target database does not exist: {parent}")
    engine = get_engine(target)
    migrations.initialize(engine)
    with read_connection(engine) as conn:
        ids, replace_default = _plan_ids(conn, experiments)
    ordered = sorted(experiments, key=lambda x: ids[x.source_id])
    for number, exp in enumerate(ordered, start=1):
        try:
            done = _import_experiment(engine, exp, ids[exp.source_id], exp.source_id == replace_default, report.warnings)
        except (MlflowException, sa.exc.SQLAlchemyError) as exc:
            imported = ", ".join(repr(e.name) for e in report.experiments) or "none"
            detail = exc.message if isinstance(exc, MlflowException) else f"database error: {getattr(exc, 'orig', exc)}"
            raise MlflowException(
                f"{detail} -- experiment {exp.name!r} ({exp.source_id}) was not imported and the import stopped; "
                f"experiments imported before it: {imported}.",
                error_code=getattr(exc, "error_code", "INTERNAL_ERROR"),
            ) from None
        report.experiments.append(done)
        if progress is not None:
            progress(
                f"[{number}/{len(ordered)}] experiment {exp.name!r} ({exp.source_id} -> {done.experiment_id}, "
                f"{exp.lifecycle_stage}): {done.runs} runs, {done.params} params, {done.tags} tags, "
                f"{done.metric_points} metric points, {done.inputs} dataset inputs"
            )
    return report
