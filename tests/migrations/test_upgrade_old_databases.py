"""``fluvial db upgrade`` on databases written by older MLflow releases and by MLflow before 1.0.

For each: fluvial upgrades one copy, MLflow 2.22.5 upgrades another (its own ``mlflow db upgrade``);
both must end with the same schema (tables, columns, types, keys, indexes, checks) and, where the two
copies started equal, the same rows. MLflow 2.22.5's ``db upgrade`` of fluvial's copy must be a no-op,
and MLflow 2.22.5 and fluvial must read from it exactly what the release that wrote it read.
"""

from __future__ import annotations

import pytest
from _mlflow import require_mlflow, run_script
from _releases import RELEASES, fill, for_mlflow
from _schemas import describe, restricted_to, rows
from _scripts import BASE, MLFLOW_UPGRADE, MLFLOW_UPGRADE_ONLY, READ
from click.testing import CliRunner

from fluvial.store.tracking.sql import schema

pytestmark = [pytest.mark.compat, pytest.mark.slow]
HEAD = schema.MLFLOW_HEAD_REVISION


def fluvial_upgrade(uri: str) -> list[str]:
    from fluvial.cli import main
    from fluvial.store.tracking.sql import engine

    result = CliRunner().invoke(main, ["db", "upgrade", uri], prog_name="fluvial")
    engine.dispose_engines()  # let MLflow's processes have the database to themselves
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def mlflow_upgrade(*uris: str, cwd) -> dict:
    """MLflow 2.22.5's ``mlflow db upgrade`` on each URI, then its read of the first."""
    uris = tuple(for_mlflow(u) for u in uris)
    return run_script(require_mlflow(), MLFLOW_UPGRADE, "mlflow", *uris, cwd=cwd, name="mlflow_upgrade.py")


def fluvial_read(uri: str, cwd) -> dict:
    import sys

    return run_script(sys.executable, READ, "fluvial", uri, cwd=cwd, name="fluvial_read.py")


def check_release(version: str, upgraded: str, pristine: str, written: dict, tmp_path, same_rows: bool) -> None:
    out = fluvial_upgrade(upgraded)
    assert out[-1] == f"Database upgraded to revision {HEAD}."
    assert out[0].startswith(f"applied {schema_next(RELEASES[version])}:")
    before = rows(upgraded)
    seen = mlflow_upgrade(upgraded, pristine, cwd=tmp_path)
    assert seen.pop("revisions") == [[HEAD, HEAD], [RELEASES[version], HEAD]]
    assert rows(upgraded) == before  # MLflow's own upgrade found nothing to do
    assert seen == written
    assert fluvial_read(upgraded, tmp_path) == written
    same_schema(upgraded, pristine, same_rows)


def same_schema(upgraded: str, pristine: str, same_rows: bool) -> None:
    """Everything MLflow's upgrade made (tables, columns, keys, indexes, checks; and rows) is in fluvial's."""
    theirs = describe(pristine)
    mine = restricted_to(describe(upgraded), theirs)
    differences = {t: {k: (mine.get(t, {}).get(k), v) for k, v in parts.items() if mine.get(t, {}).get(k) != v}
                   for t, parts in theirs.items() if mine.get(t) != parts}
    assert not differences, f"(fluvial's, MLflow's) where they differ: {differences}"
    if same_rows:
        assert rows(upgraded, set(theirs)) == rows(pristine)


def schema_next(revision: str) -> str:
    from fluvial.store.tracking.sql import migrations

    chain = migrations.known_revisions()
    return chain[chain.index(revision) + 1]


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_release_database_on_sqlite(version, release_sqlite, tmp_path):
    upgraded, written = release_sqlite(version)
    pristine, _ = release_sqlite(version)
    check_release(version, upgraded, pristine, written, tmp_path, same_rows=True)


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres),
                                     pytest.param("mysql", marks=pytest.mark.mysql)])
def test_release_database_on_a_server(backend, new_database, tmp_path):
    """MLflow 1.30.1 (the longest way to the head) writes the same data into two databases."""
    upgraded, pristine = new_database(backend), new_database(backend)
    written = fill("1.30.1", upgraded, pristine, cwd=tmp_path)
    check_release("1.30.1", upgraded, pristine, written, tmp_path, same_rows=False)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                                     pytest.param("mysql", marks=pytest.mark.mysql)])
def test_database_from_before_mlflow_1_0(backend, new_database, tmp_path):
    """MLflow 0.x kept no revision: every step of the chain runs, with its data migrations (run
    user_id copied to the mlflow.user tag, latest_metrics filled in)."""
    if backend == "sqlite":
        upgraded, pristine = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    else:
        upgraded, pristine = new_database(backend), new_database(backend)
    run_script(require_mlflow(), BASE, for_mlflow(upgraded), for_mlflow(pristine), cwd=tmp_path, name="base.py")
    out = fluvial_upgrade(upgraded)
    applied = [line.split(":")[0].split()[-1] for line in out if line.startswith("applied ")]
    from fluvial.store.tracking.sql import migrations

    assert applied == migrations.known_revisions() and len(applied) == 28
    done = run_script(require_mlflow(), MLFLOW_UPGRADE_ONLY, "mlflow", for_mlflow(pristine), cwd=tmp_path,
                      name="mlflow_upgrade.py")
    assert done["revisions"] == [[None, HEAD]]
    same_schema(upgraded, pristine, same_rows=True)
    # (MLflow 0.x's metrics.value was a single-precision FLOAT on MySQL: 0.7 comes back as 0.69999998...)
    latest = {(r[5], r[0]): pytest.approx(float(r[1]), rel=1e-6) for r in rows(upgraded)["latest_metrics"]}
    assert latest == {("r1", "loss"): 0.7, ("r1", "acc"): 0.9, ("r2", "loss"): 3.0, ("r4", "x"): -1.5}
    user_tags = {r[2]: r[1] for r in rows(upgraded)["tags"] if r[0] == "mlflow.user"}
    assert user_tags == {"r1": "alice", "r2": "carol"}


def test_a_database_written_by_mlflow_3_is_refused_and_left_unchanged(tmp_path):
    from fluvial.cli import main
    from fluvial.store.tracking.sql import engine

    uri = f"sqlite:///{tmp_path / 'mlflow3.db'}"
    script = "import mlflow, sys; mlflow.MlflowClient(sys.argv[1]).create_experiment('from mlflow 3'); emit(0)"
    run_script(require_mlflow("3.17.2"), script, uri, cwd=tmp_path, name="mlflow3.py")
    before = describe(uri), rows(uri)
    result = CliRunner().invoke(main, ["db", "upgrade", uri], prog_name="fluvial")
    engine.dispose_engines()
    assert result.exit_code == 1
    assert "which is not an MLflow 1.x/2.x revision fluvial knows" in result.stderr
    assert "newer MLflow (3.x)" in result.stderr and "Traceback" not in result.output
    assert (describe(uri), rows(uri)) == before


def test_an_interrupted_upgrade_resumes_where_it_stopped(release_sqlite, monkeypatch):
    """Each revision commits with its alembic_version row: a failure inside the last one rolls back only
    that one, and the next run applies only what is left."""
    from fluvial.store.tracking.sql import engine, migrations

    uri, _ = release_sqlite("2.16.2")  # at 4465047574b1: f5a4f2784254 and 0584bdc529eb are left
    apply = migrations._apply

    def power_cut(conn, module, revision, previous):
        apply(conn, module, revision, previous)
        if revision == HEAD:
            raise RuntimeError("power cut")

    monkeypatch.setattr(migrations, "_apply", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        migrations.upgrade(engine.get_engine(uri))
    engine.dispose_engines()
    fks = [fk for fk in describe(uri)["datasets"]["foreign_keys"] if fk[1] == "experiments"]
    assert rows(uri)["alembic_version"] == [("f5a4f2784254",)]
    assert fks == [(("experiment_id",), "experiments", ("experiment_id",), (), "")]  # not yet cascading
    monkeypatch.setattr(migrations, "_apply", apply)
    out = fluvial_upgrade(uri)
    assert [line.split(":")[0] for line in out if line.startswith("applied")] == [f"applied {HEAD}"]
    assert rows(uri)["alembic_version"] == [(HEAD,)]
    fks = [fk for fk in describe(uri)["datasets"]["foreign_keys"] if fk[1] == "experiments"]
    assert fks == [(("experiment_id",), "experiments", ("experiment_id",), (("ondelete", "cascade"),),
                    "fk_datasets_experiment_id_experiments")]
