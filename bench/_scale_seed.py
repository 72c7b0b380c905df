"""Seeding the scale benchmark's databases fast: bulk SQL straight into MLflow 2.22.5's schema (no
fluvial indexes, so MLflow runs on its own schema), cached under ``.bench/`` (git-ignored).

Experiment 1 holds ``n`` runs, experiment 2 another ``n // 10``; each run has 5 params, 5 latest
metrics (one history point each), 6 tags; 5% of experiment 1's runs are deleted, 1% of ``acc`` values
are NaN, and pairs of runs share a start time (ties for the order's tiebreak).
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

T0 = 1_600_000_000_000
MODELS = ["rf", "lr", "xgb", "svm", "knn"]
CHUNK = 20_000


def _rows(n: int, seed: int = 20250101) -> Iterator[tuple[list, list, list, list]]:
    """(runs, params, tags, metrics) rows in chunks; metrics rows go to both metrics and latest_metrics."""
    rng = random.Random(seed)
    total = n + n // 10
    runs, params, tags, metrics = [], [], [], []
    for i in range(total):
        exp = 1 if i < n else 2
        run_uuid = uuid.UUID(int=rng.getrandbits(128)).hex
        start = T0 + (i // 2) * 1000
        deleted = exp == 1 and rng.random() < 0.05
        name = f"run-{i}"
        runs.append((run_uuid, name, "UNKNOWN", "", "", "bench", "FINISHED", start, start + 500,
                     start + 600 if deleted else None, "", "deleted" if deleted else "active",
                     f"/tmp/artifacts/{exp}/{run_uuid}/artifacts", exp))
        params += [("model", MODELS[rng.randrange(5)], run_uuid), ("lr", str(10 ** -rng.randrange(1, 6)), run_uuid),
                   ("depth", str(rng.randrange(1, 21)), run_uuid), ("seed", str(i % 1000), run_uuid),
                   ("optimizer", rng.choice(["adam", "sgd"]), run_uuid)]
        tags += [("mlflow.runName", name, run_uuid), ("mlflow.user", "bench", run_uuid),
                 ("mlflow.source.type", "LOCAL", run_uuid), ("mlflow.source.name", "train.py", run_uuid),
                 ("team", f"team{rng.randrange(10)}", run_uuid), ("env", rng.choice(["dev", "prod"]), run_uuid)]
        acc = rng.random()
        acc_nan = rng.random() < 0.01
        for key, value, nan in (("acc", 0.0 if acc_nan else acc, acc_nan), ("loss", rng.random() * 3, False),
                                ("f1", rng.random(), False), ("auc", rng.random(), False),
                                ("epochs", float(rng.randrange(1, 100)), False)):
            metrics.append((key, value, start + 400, 0, nan, run_uuid))
        if len(runs) >= CHUNK:
            yield runs, params, tags, metrics
            runs, params, tags, metrics = [], [], [], []
    if runs:
        yield runs, params, tags, metrics


def create_schema(db_uri: str) -> None:
    """MLflow 2.22.5's schema (tables, MLflow's indexes, the Alembic stamp), without fluvial's indexes."""
    import sqlalchemy as sa

    from fluvial.store.tracking.sql import schema

    engine = sa.create_engine(db_uri)
    try:
        with engine.begin() as conn:
            schema.metadata.create_all(conn)
            conn.execute(sa.delete(schema.alembic_version))
            conn.execute(sa.insert(schema.alembic_version).values(version_num=schema.MLFLOW_HEAD_REVISION))
            conn.execute(sa.delete(schema.experiments))
            for exp_id, name in ((0, "Default"), (1, "scale"), (2, "scale-other")):
                conn.execute(sa.insert(schema.experiments).values(
                    experiment_id=exp_id, name=name, artifact_location=f"/tmp/artifacts/{exp_id}",
                    lifecycle_stage="active", creation_time=T0, last_update_time=T0))
    finally:
        engine.dispose()


RUN_COLS = ("run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, "
            "deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id")


def _insert_all(executemany: Callable[[str, list], Any], n: int, mark: str, log: Callable[[str], None]) -> None:
    p = ", ".join([mark] * 6)
    started = time.perf_counter()
    done = 0
    for runs, params, tags, metrics in _rows(n):
        executemany(f"INSERT INTO runs ({RUN_COLS}) VALUES ({', '.join([mark] * 14)})", runs)
        executemany(f"INSERT INTO params (key, value, run_uuid) VALUES ({mark}, {mark}, {mark})", params)
        executemany(f"INSERT INTO tags (key, value, run_uuid) VALUES ({mark}, {mark}, {mark})", tags)
        executemany(f"INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ({p})", metrics)
        executemany(f"INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ({p})",
                    metrics)
        done += len(runs)
        if done % 200_000 < CHUNK:
            log(f"seeded {done:,} runs ({time.perf_counter() - started:.0f}s)")


def seed_sqlite(path: Path, n: int, log: Callable[[str], None]) -> None:
    """A SQLite file at ``path`` with the runs described above (MLflow's schema only)."""
    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    create_schema(f"sqlite:///{tmp}")
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    with conn:
        _insert_all(conn.executemany, n, "?", log)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    tmp.rename(path)


def seed_postgres(url: str, n: int, log: Callable[[str], None]) -> None:
    """The same rows in a PostgreSQL database (COPY-speed executemany through psycopg 3)."""
    import sqlalchemy as sa

    create_schema(url)
    engine = sa.create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()

            def executemany(sql: str, rows: list) -> None:
                table, cols = sql.split("INSERT INTO ", 1)[1].split(" VALUES", 1)[0].split(" ", 1)
                with cur.copy(f"COPY {table} {cols} FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)

            _insert_all(executemany, n, "%s", log)
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
