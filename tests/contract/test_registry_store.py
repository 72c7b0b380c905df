"""The model registry store contract, run against every backend: SQL on SQLite and PostgreSQL, and
REST over an in-process ``fluvial server`` on each database.

Bad input raises the right typed error (code and HTTP status) and leaves the database unchanged,
checked by comparing every registry table before and after.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from fluvial.entities import ModelVersionTag, RegisteredModelTag
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)

SOURCE = "s3://bucket/models/churn"  # a location every backend accepts (the test server allows s3://bucket)
TABLES = ("registered_models", "registered_model_tags", "registered_model_aliases", "model_versions",
          "model_version_tags")


class Backend:
    def __init__(self, store: Any, db_uri: str) -> None:
        self.store = store
        self.db_uri = db_uri

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        from fluvial.store.tracking.sql.engine import get_engine

        engine = get_engine(self.db_uri)
        out = {}
        with engine.connect() as conn:
            for table in TABLES:
                rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
                out[table] = sorted(tuple(str(x) for x in r) for r in rows)
        return out


@pytest.fixture(params=["sql", "rest"])
def backend(request, db_uri, tmp_path) -> Iterator[Backend]:
    from fluvial.store.registry.sql import SqlRegistryStore
    from fluvial.store.tracking.sql.store import SqlTrackingStore

    tracking = SqlTrackingStore(db_uri, str(tmp_path / "artifacts"))
    sql = SqlRegistryStore(db_uri)
    if request.param == "sql":
        yield Backend(sql, db_uri)
        return
    from fluvial.server.app import create_app
    from fluvial.server.config import ServerConfig, Stores
    from fluvial.store.registry.rest import RestRegistryStore
    from fluvial.transport.asgi import AsgiTransport

    config = ServerConfig(backend_store_uri=db_uri, default_artifact_root=str(tmp_path / "artifacts"),
                          serve_artifacts=False, allowed_artifact_locations=("s3://bucket",))
    transport = AsgiTransport(create_app(Stores(config=config, tracking=tracking, registry=sql)))
    try:
        yield Backend(RestRegistryStore("http://localhost", transport=transport), db_uri)
    finally:
        transport.close()


@pytest.fixture
def store(backend):
    return backend.store


def unchanged(backend: Backend, exc_type: type[MlflowException], fn: Any, *args: Any, match: str | None = None,
              status: int | None = None) -> MlflowException:
    """Call ``fn`` expecting ``exc_type``; the registry tables must be exactly as before."""
    before = backend.snapshot()
    with pytest.raises(exc_type, match=match) as info:
        fn(*args)
    assert backend.snapshot() == before
    if status is not None:
        assert info.value.http_status == status
    return info.value


def model_with_versions(store: Any, name: str = "churn", n: int = 1) -> list[Any]:
    store.create_registered_model(name)
    return [store.create_model_version(name, f"{SOURCE}/{i}") for i in range(n)]


# ---- registered models ------------------------------------------------------------------------------
def test_create_and_get_registered_model(store):
    before = int(time.time() * 1000)
    created = store.create_registered_model("churn", [RegisteredModelTag("team", "ml"), RegisteredModelTag("é", "ü")],
                                            "predicts churn")
    assert created.name == "churn" and created.description == "predicts churn"
    assert created.tags == {"team": "ml", "é": "ü"}
    assert created.latest_versions == [] and created.aliases == {}
    assert created.creation_timestamp >= before and created.last_updated_timestamp == created.creation_timestamp
    assert store.get_registered_model("churn") == created
    assert store.create_registered_model("plain").description is None


def test_duplicate_and_bad_registered_models(backend, store):
    store.create_registered_model("churn")
    err = unchanged(backend, ResourceAlreadyExists, store.create_registered_model, "churn", status=400)
    assert "Registered Model (name=churn) already exists." in err.message
    unchanged(backend, InvalidParameterValue, store.create_registered_model, "", match="Missing value for required "
              "parameter 'name'", status=400)
    unchanged(backend, InvalidParameterValue, store.create_registered_model, "x" * 257, match="exceeds the maximum")
    unchanged(backend, InvalidParameterValue, store.create_registered_model, "m", [RegisteredModelTag("../k", "v")])
    unchanged(backend, InvalidParameterValue, store.create_registered_model, "m", [RegisteredModelTag("k", "v" * 5001)],
              match="5000")
    unchanged(backend, InvalidParameterValue, store.create_registered_model, "m", None, "d" * 5001)
    err = unchanged(backend, ResourceDoesNotExist, store.get_registered_model, "nope", status=404)
    assert "Registered Model with name=nope not found" in err.message


def test_update_description(backend, store):
    created = store.create_registered_model("churn")
    time.sleep(0.005)
    updated = store.update_registered_model("churn", "new words")
    assert updated.description == "new words"
    assert updated.last_updated_timestamp > created.last_updated_timestamp
    assert store.get_registered_model("churn").description == "new words"
    unchanged(backend, ResourceDoesNotExist, store.update_registered_model, "nope", "x")


def test_rename_keeps_versions_tags_and_aliases(backend, store):
    store.create_registered_model("churn", [RegisteredModelTag("team", "ml")], "d")
    store.create_model_version("churn", SOURCE, tags=[ModelVersionTag("k", "v")])
    store.create_model_version("churn", SOURCE + "2")
    store.set_registered_model_alias("churn", "champion", 2)
    store.transition_model_version_stage("churn", 1, "Production")
    renamed = store.rename_registered_model("churn", "churn-v2")
    assert renamed.name == "churn-v2" and renamed.tags == {"team": "ml"} and renamed.aliases == {"champion": 2}
    assert sorted((v.version, v.current_stage) for v in renamed.latest_versions) == [(1, "Production"), (2, "None")]
    assert store.get_model_version("churn-v2", 1).tags == {"k": "v"}
    assert store.get_model_version_by_alias("churn-v2", "champion").version == 2
    assert [v.name for v in store.search_model_versions("name = 'churn-v2'")] == ["churn-v2", "churn-v2"]
    unchanged(backend, ResourceDoesNotExist, store.get_registered_model, "churn")
    assert store.search_model_versions("name = 'churn'") == []
    # numbering continues under the new name
    assert store.create_model_version("churn-v2", SOURCE).version == 3


def test_rename_errors_change_nothing(backend, store):
    store.create_registered_model("a")
    store.create_registered_model("b")
    store.create_model_version("a", SOURCE)
    err = unchanged(backend, ResourceAlreadyExists, store.rename_registered_model, "a", "b")
    assert "Registered Model (name=b) already exists." in err.message
    unchanged(backend, ResourceDoesNotExist, store.rename_registered_model, "nope", "c")
    unchanged(backend, InvalidParameterValue, store.rename_registered_model, "a", "", match="new_name")


def test_delete_registered_model(backend, store):
    model_with_versions(store, "churn", 2)
    store.set_registered_model_tag("churn", RegisteredModelTag("k", "v"))
    store.set_registered_model_alias("churn", "champion", 1)
    store.delete_registered_model("churn")
    unchanged(backend, ResourceDoesNotExist, store.get_registered_model, "churn")
    unchanged(backend, ResourceDoesNotExist, store.get_model_version, "churn", 1)
    unchanged(backend, ResourceDoesNotExist, store.delete_registered_model, "churn")
    assert all(rows == [] for rows in backend.snapshot().values())
    # a new model of the same name starts again at 1 (MLflow does the same)
    store.create_registered_model("churn")
    assert store.create_model_version("churn", SOURCE).version == 1


# ---- versions -----------------------------------------------------------------------------------------
def test_create_model_version_fields(store):
    store.create_registered_model("churn")
    mv = store.create_model_version("churn", SOURCE, "a" * 32, [ModelVersionTag("k", "v")], "http://link", "first")
    assert (mv.name, mv.version, mv.source, mv.run_id, mv.run_link, mv.description) == (
        "churn", 1, SOURCE, "a" * 32, "http://link", "first")
    assert mv.current_stage == "None" and mv.status == "READY" and mv.tags == {"k": "v"} and mv.aliases == []
    assert mv.user_id is None and mv.status_message is None
    assert mv.creation_timestamp == mv.last_updated_timestamp
    assert store.get_model_version("churn", 1) == mv
    assert store.get_model_version("churn", "1") == mv
    assert store.get_model_version_download_uri("churn", 1) == SOURCE
    plain = store.create_model_version("churn", SOURCE)
    assert plain.run_id is None and plain.run_link is None and plain.description is None and plain.tags == {}


def test_versions_count_from_one_and_are_never_reused(backend, store):
    versions = model_with_versions(store, "churn", 3)
    assert [v.version for v in versions] == [1, 2, 3]
    store.create_registered_model("other")
    assert store.create_model_version("other", SOURCE).version == 1  # numbering is per model
    store.delete_model_version("churn", 2)
    unchanged(backend, ResourceDoesNotExist, store.get_model_version, "churn", 2, match=r"Model Version \(name=churn, "
              r"version=2\) not found")
    unchanged(backend, ResourceDoesNotExist, store.delete_model_version, "churn", 2)
    assert store.create_model_version("churn", SOURCE).version == 4
    store.delete_model_version("churn", 4)
    assert store.create_model_version("churn", SOURCE).version == 5  # the highest, deleted, is not reused
    assert sorted(v.version for v in store.search_model_versions("name = 'churn'")) == [1, 3, 5]
    assert [v.version for v in store.get_registered_model("churn").latest_versions] == [5]


def test_deleted_version_is_redacted_and_loses_aliases(backend, store):
    model_with_versions(store, "churn", 2)
    store.set_registered_model_alias("churn", "champion", 2)
    store.set_model_version_tag("churn", 2, ModelVersionTag("k", "v"))
    store.delete_model_version("churn", 2)
    assert store.get_registered_model("churn").aliases == {}
    rows = {r for r in backend.snapshot()["model_versions"] if r[1] == "2"}
    (row,) = rows
    assert "Deleted_Internal" in row and SOURCE + "/1" not in row


def test_bad_versions(backend, store):
    model_with_versions(store, "churn", 1)
    err = unchanged(backend, InvalidParameterValue, store.get_model_version, "churn", "abc", status=400)
    assert "Parameter 'version' must be an integer, got 'abc'." in err.message
    for version in (0, -1, 2, 10**12):
        unchanged(backend, ResourceDoesNotExist, store.get_model_version, "churn", version, status=404)
    unchanged(backend, ResourceDoesNotExist, store.get_model_version, "nope", 1)
    unchanged(backend, ResourceDoesNotExist, store.update_model_version, "churn", 7, "d")
    unchanged(backend, InvalidParameterValue, store.update_model_version, "churn", "x", "d")


def test_create_version_bad_input_changes_nothing(backend, store):
    store.create_registered_model("churn")
    unchanged(backend, ResourceDoesNotExist, store.create_model_version, "nope", SOURCE, status=404)
    unchanged(backend, InvalidParameterValue, store.create_model_version, "churn", "", match="source")
    unchanged(backend, InvalidParameterValue, store.create_model_version, "churn", SOURCE + "x" * 500)
    unchanged(backend, InvalidParameterValue, store.create_model_version, "churn", SOURCE, None,
              [ModelVersionTag("bad key!", "v")])
    unchanged(backend, InvalidParameterValue, store.create_model_version, "churn", SOURCE, None,
              [ModelVersionTag("k", "v" * 5001)])
    unchanged(backend, InvalidParameterValue, store.create_model_version, "churn", SOURCE, "r" * 33)
    assert store.create_model_version("churn", SOURCE).version == 1


def test_update_model_version_description(store):
    model_with_versions(store, "churn", 1)
    time.sleep(0.005)
    updated = store.update_model_version("churn", 1, "better")
    assert updated.description == "better"
    assert updated.last_updated_timestamp > updated.creation_timestamp
    assert store.get_model_version("churn", 1).description == "better"


# ---- stages ---------------------------------------------------------------------------------------------
def test_transition_stages_case_insensitively(backend, store):
    model_with_versions(store, "churn", 1)
    for given, stored in (("staging", "Staging"), ("PRODUCTION", "Production"), ("archived", "Archived"),
                          ("none", "None"), ("Production", "Production")):
        assert store.transition_model_version_stage("churn", 1, given).current_stage == stored
    err = unchanged(backend, InvalidParameterValue, store.transition_model_version_stage, "churn", 1, "Prod", status=400)
    assert "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived." in err.message
    unchanged(backend, InvalidParameterValue, store.transition_model_version_stage, "churn", 1, "")
    unchanged(backend, ResourceDoesNotExist, store.transition_model_version_stage, "churn", 9, "Staging")
    unchanged(backend, ResourceDoesNotExist, store.transition_model_version_stage, "nope", 1, "Staging")


def test_archive_existing_versions_only_touches_the_target_stage(backend, store):
    model_with_versions(store, "churn", 4)
    store.transition_model_version_stage("churn", 1, "Production")
    store.transition_model_version_stage("churn", 2, "Staging")
    store.transition_model_version_stage("churn", 3, "Production")
    moved = store.transition_model_version_stage("churn", 4, "production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    stages = {v.version: v.current_stage for v in store.search_model_versions("name = 'churn'")}
    assert stages == {1: "Archived", 2: "Staging", 3: "Archived", 4: "Production"}
    for target in ("Archived", "None", "archived"):
        err = unchanged(backend, InvalidParameterValue, store.transition_model_version_stage, "churn", 2, target, True)
        assert "is not an Active stage" in err.message
    # an archived version can come back
    assert store.transition_model_version_stage("churn", 1, "Staging", True).current_stage == "Staging"
    assert store.get_model_version("churn", 2).current_stage == "Archived"


def test_get_latest_versions(backend, store):
    model_with_versions(store, "churn", 5)
    store.transition_model_version_stage("churn", 1, "Production")
    store.transition_model_version_stage("churn", 2, "Production")
    store.transition_model_version_stage("churn", 3, "Staging")
    store.transition_model_version_stage("churn", 4, "Archived")
    latest = {v.current_stage: v.version for v in store.get_latest_versions("churn")}
    assert latest == {"Production": 2, "Staging": 3, "Archived": 4, "None": 5}
    assert [v.version for v in store.get_latest_versions("churn", ["production"])] == [2]
    assert sorted(v.version for v in store.get_latest_versions("churn", ["Production", "Staging"])) == [2, 3]
    store.delete_model_version("churn", 5)
    assert store.get_latest_versions("churn", ["None"]) == []
    model = store.get_registered_model("churn")
    assert sorted((v.current_stage, v.version) for v in model.latest_versions) == [
        ("Archived", 4), ("Production", 2), ("Staging", 3)]
    unchanged(backend, InvalidParameterValue, store.get_latest_versions, "churn", ["Prod"])
    unchanged(backend, ResourceDoesNotExist, store.get_latest_versions, "nope")


# ---- aliases ----------------------------------------------------------------------------------------------
def test_aliases(backend, store):
    model_with_versions(store, "churn", 2)
    store.set_registered_model_alias("churn", "champion", 1)
    store.set_registered_model_alias("churn", "challenger", "2")
    assert store.get_registered_model("churn").aliases == {"challenger": 2, "champion": 1}
    assert store.get_model_version("churn", 1).aliases == ["champion"]
    assert store.get_model_version_by_alias("churn", "champion").version == 1
    store.set_registered_model_alias("churn", "champion", 2)  # moves
    assert store.get_model_version("churn", 2).aliases == ["challenger", "champion"]
    assert store.get_model_version("churn", 1).aliases == []
    store.delete_registered_model_alias("churn", "challenger")
    store.delete_registered_model_alias("churn", "never-set")  # not an error, as in MLflow
    assert store.get_registered_model("churn").aliases == {"champion": 2}
    err = unchanged(backend, ResourceDoesNotExist, store.get_model_version_by_alias, "churn", "challenger", status=404)
    assert "Registered model alias challenger not found." in err.message
    unchanged(backend, ResourceDoesNotExist, store.get_model_version_by_alias, "nope", "champion")


def test_bad_aliases_change_nothing(backend, store):
    model_with_versions(store, "churn", 1)
    for alias, message in (("latest", "'latest' alias name (case insensitive) is reserved."),
                           ("LaTeSt", "is reserved"), ("v1", "Version alias name 'v1' is reserved."),
                           ("V12", "is reserved"), ("", "cannot be empty"), ("a b", "Invalid alias name"),
                           ("a/b", "Invalid alias name"), ("x" * 256, "exceeds the maximum length")):
        unchanged(backend, InvalidParameterValue, store.set_registered_model_alias, "churn", alias, 1,
                  match=re.escape(message))
    unchanged(backend, ResourceDoesNotExist, store.set_registered_model_alias, "churn", "champion", 2, status=404)
    unchanged(backend, ResourceDoesNotExist, store.set_registered_model_alias, "nope", "champion", 1)
    unchanged(backend, InvalidParameterValue, store.set_registered_model_alias, "churn", "champion", "one")
    assert store.set_registered_model_alias("churn", "v1x", 1) is None  # only v<digits> is reserved


# ---- tags -----------------------------------------------------------------------------------------------------
def test_registered_model_tags(backend, store):
    store.create_registered_model("churn")
    store.set_registered_model_tag("churn", RegisteredModelTag("team", "a"))
    store.set_registered_model_tag("churn", RegisteredModelTag("team", "b"))
    store.set_registered_model_tag("churn", RegisteredModelTag("note", ""))
    assert store.get_registered_model("churn").tags == {"note": "", "team": "b"}
    store.delete_registered_model_tag("churn", "team")
    store.delete_registered_model_tag("churn", "absent")
    assert store.get_registered_model("churn").tags == {"note": ""}
    unchanged(backend, ResourceDoesNotExist, store.set_registered_model_tag, "nope", RegisteredModelTag("k", "v"))
    unchanged(backend, ResourceDoesNotExist, store.delete_registered_model_tag, "nope", "k")
    unchanged(backend, InvalidParameterValue, store.set_registered_model_tag, "churn", RegisteredModelTag("/abs", "v"))
    unchanged(backend, InvalidParameterValue, store.set_registered_model_tag, "churn", RegisteredModelTag("k", "v" * 5001))


def test_model_version_tags(backend, store):
    model_with_versions(store, "churn", 2)
    store.set_model_version_tag("churn", 1, ModelVersionTag("k", "v1"))
    store.set_model_version_tag("churn", "1", ModelVersionTag("k", "v2"))
    store.set_model_version_tag("churn", 2, ModelVersionTag("other", "x"))
    assert store.get_model_version("churn", 1).tags == {"k": "v2"}
    assert store.get_model_version("churn", 2).tags == {"other": "x"}
    store.delete_model_version_tag("churn", 1, "k")
    store.delete_model_version_tag("churn", 1, "absent")
    assert store.get_model_version("churn", 1).tags == {}
    unchanged(backend, ResourceDoesNotExist, store.set_model_version_tag, "churn", 3, ModelVersionTag("k", "v"))
    unchanged(backend, ResourceDoesNotExist, store.delete_model_version_tag, "churn", 3, "k")
    unchanged(backend, InvalidParameterValue, store.set_model_version_tag, "churn", 1, ModelVersionTag("", "v"))


# ---- models:/ sources -------------------------------------------------------------------------------------
def test_models_uri_sources_resolve_their_location(backend, store):
    model_with_versions(store, "churn", 2)
    store.set_registered_model_alias("churn", "champion", 1)
    store.transition_model_version_stage("churn", 2, "Staging")
    store.create_registered_model("copy")
    cases = {"models:/churn/1": SOURCE + "/0", "models:/churn@champion": SOURCE + "/0",
             "models:/churn/staging": SOURCE + "/1", "models:/churn/latest": SOURCE + "/1"}
    for number, (uri, location) in enumerate(cases.items(), start=1):
        mv = store.create_model_version("copy", uri)
        assert mv.source == uri and mv.version == number
        assert store.get_model_version_download_uri("copy", number) == location
    for bad in ("models:/churn/9", "models:/nope/1", "models:/churn@nobody", "models:/churn"):
        unchanged(backend, InvalidParameterValue, store.create_model_version, "copy", bad)


# ---- search ---------------------------------------------------------------------------------------------------
def test_search_registered_models_filters(backend, store):
    for name, team in (("churn-a", "ml"), ("churn-B", "ml"), ("fraud", "risk"), ("Churn-c", None)):
        store.create_registered_model(name, [RegisteredModelTag("team", team)] if team else None)
    store.create_registered_model("prompt", [RegisteredModelTag("mlflow.prompt.is_prompt", "true")])

    def names(flt: str | None = None, **kw: Any) -> list[str]:
        return [m.name for m in store.search_registered_models(flt, **kw)]

    assert names() == ["Churn-c", "churn-B", "churn-a", "fraud"]  # prompts are left out; name ASC
    assert names("name = 'fraud'") == ["fraud"]
    assert names("name != 'fraud'") == ["Churn-c", "churn-B", "churn-a"]
    assert names("name LIKE 'churn%'") == ["churn-B", "churn-a"]
    assert names("name ILIKE 'churn%'") == ["Churn-c", "churn-B", "churn-a"]
    assert names("tags.team = 'ml'") == ["churn-B", "churn-a"]
    assert names("tag.team != 'ml'") == ["fraud"]  # a model without the tag never matches
    assert names("name LIKE 'churn%' AND tags.team = 'ml'") == ["churn-B", "churn-a"]
    assert names("tag.`mlflow.prompt.is_prompt` != 'true'") == ["Churn-c", "churn-B", "churn-a", "fraud"]
    assert names("tags.`mlflow.prompt.is_prompt` = 'true'") == ["prompt"]
    assert names("tags.`mlflow.prompt.is_prompt` = 'false'") == ["Churn-c", "churn-B", "churn-a", "fraud"]
    assert names(order_by=["name DESC"]) == ["fraud", "churn-a", "churn-B", "Churn-c"]
    store.update_registered_model("churn-B", "touched")
    assert names(order_by=["last_updated_timestamp DESC"])[0] == "churn-B"
    assert names(order_by=["timestamp ASC"])[-1] == "churn-B"
    for bad in ("name = fraud", "name > 'a'", "creation_timestamp > 1", "params.x = 'y'", "name = 'a' OR name = 'b'"):
        unchanged(backend, InvalidParameterValue, store.search_registered_models, bad, status=400)
    unchanged(backend, InvalidParameterValue, store.search_registered_models, None, 100, ["creation_timestamp"])
    unchanged(backend, InvalidParameterValue, store.search_registered_models, None, 1001)
    unchanged(backend, InvalidParameterValue, store.search_registered_models, None, 100, None, "garbage!")


def test_search_registered_models_pages(store):
    for i in range(7):
        store.create_registered_model(f"m{i}")
    seen, token, pages = [], None, 0
    while True:
        page = store.search_registered_models(max_results=3, page_token=token)
        seen += [m.name for m in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert seen == [f"m{i}" for i in range(7)] and pages == 3
    exact = store.search_registered_models(max_results=7)
    assert len(exact) == 7 and exact.token is None


def test_search_model_versions(backend, store):
    run_a, run_b = "a" * 32, "b" * 32
    store.create_registered_model("churn")
    store.create_registered_model("fraud")
    for args in (("churn", SOURCE + "/x", run_a, [ModelVersionTag("ready", "yes")]), ("churn", SOURCE + "/y", run_b),
                 ("fraud", "s3://bucket/other", run_a), ("churn", SOURCE + "/z")):
        store.create_model_version(*args)
        time.sleep(0.003)  # distinct last-updated times
    store.delete_model_version("churn", 3)

    def found(flt: str | None = None, **kw: Any) -> list[tuple[str, int]]:
        return [(v.name, v.version) for v in store.search_model_versions(flt, **kw)]

    assert found() == [("fraud", 1), ("churn", 2), ("churn", 1)]  # last updated first; deleted ones never
    assert found("name = 'churn'", order_by=["version_number ASC"]) == [("churn", 1), ("churn", 2)]
    assert found("version_number > 1") == [("churn", 2)]
    assert found("version_number = '1'", order_by=["name"]) == [("churn", 1), ("fraud", 1)]
    assert found(f"run_id = '{run_a}'", order_by=["name ASC"]) == [("churn", 1), ("fraud", 1)]
    assert found(f"run_id IN ('{run_b}', 'nope')") == [("churn", 2)]
    assert found("source_path LIKE 's3://bucket/models/%'", order_by=["version_number DESC"]) == [
        ("churn", 2), ("churn", 1)]
    assert found("tags.ready = 'yes'") == [("churn", 1)]
    assert found("name = 'churn' AND tags.ready != 'yes'") == []
    assert found(order_by=["creation_timestamp ASC"])[0] == ("churn", 1)
    page = store.search_model_versions(max_results=2)
    assert len(page) == 2 and page.token
    assert len(store.search_model_versions(max_results=2, page_token=page.token)) == 1
    for bad in ("current_stage = 'None'", "version_number = 'x'", "run_id IN ('a') AND name IN ('b')", "foo = 'x'"):
        unchanged(backend, InvalidParameterValue, store.search_model_versions, bad)
    unchanged(backend, InvalidParameterValue, store.search_model_versions, None, 200_001)
    unchanged(backend, InvalidParameterValue, store.search_model_versions, None, 10, ["current_stage"])


def test_writes_bump_the_models_last_updated_time(store):
    created = store.create_registered_model("churn")
    stamps = [created.last_updated_timestamp]
    for action in (lambda: store.create_model_version("churn", SOURCE),
                   lambda: store.transition_model_version_stage("churn", 1, "Staging"),
                   lambda: store.delete_model_version("churn", 1)):
        time.sleep(0.005)
        action()
        stamps.append(store.get_registered_model("churn").last_updated_timestamp)
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


def test_model_version_stages(store):
    model_with_versions(store, "churn", 1)
    assert store.get_model_version_stages("churn", 1) == ["None", "Staging", "Production", "Archived"]
