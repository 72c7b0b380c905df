"""The SQL model registry store on MLflow 2.22.5's registry tables (SQLite, PostgreSQL, MySQL), by
default in the tracking database.

Every write is one short transaction that checks all input before touching the database, so a
rejected call changes nothing. Each write that concerns a registered model first updates that model's
row (its ``last_updated_time``), which both checks that it exists and locks it: concurrent writers of
one model take turns, and ``create_model_version`` reads the highest version only once it holds the
lock, so concurrent registrations get consecutive numbers (SQLite serializes writers anyway, via
``write_transaction``). A unique violation (a writer that does not lock, e.g. MLflow itself) is
retried.

Deleted versions stay as rows in the internal stage ``Deleted_Internal`` with their data redacted, as
MLflow keeps them, so a version number is never handed out twice. Renames update the child tables
explicitly: ``ON UPDATE CASCADE`` does not fire on SQLite, where foreign keys are not enforced.
Nothing here ever touches artifacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from fluvial._internal.clock import now_ms
from fluvial.entities import ModelVersion, ModelVersionTag, PagedList, RegisteredModel, RegisteredModelTag
from fluvial.entities.registry import (
    ACTIVE_STAGES,
    ALL_STAGES,
    STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL,
    STAGE_NONE,
    canonical_stage,
)
from fluvial.exceptions import (
    InvalidParameterValue,
    MlflowException,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from fluvial.search.paging import decode_page_token, encode_page_token, validate_max_results
from fluvial.store.registry import sql_search as q
from fluvial.store.registry.base import (
    MAX_DESCRIPTION_LENGTH,
    MAX_RUN_ID_LENGTH,
    MAX_RUN_LINK_LENGTH,
    MAX_SOURCE_LENGTH,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryStore,
    check_alias,
    check_model_name,
    check_stage,
    check_tag,
    check_text,
    check_version,
    model_not_found,
    parse_models_uri,
    split_models_uri,
    version_exists_possibly,
    version_not_found,
)
from fluvial.store.tracking.sql import migrations
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import get_engine, normalize_db_uri, read_connection, write_transaction
from fluvial.store.tracking.sql.statements import upsert

CREATE_VERSION_ATTEMPTS = 5
REDACTED = {"source": "REDACTED-SOURCE-PATH", "run_id": "REDACTED-RUN-ID", "run_link": "REDACTED-RUN-LINK"}
_initialized: set[str] = set()


def _already_exists(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")


class SqlRegistryStore(RegistryStore):
    """Registry store on any SQLAlchemy database URL."""

    def __init__(self, db_uri: str, default_artifact_root: str | None = None) -> None:
        self.db_uri = db_uri
        self.engine = get_engine(db_uri)
        key = normalize_db_uri(db_uri)
        if key not in _initialized:
            migrations.initialize(self.engine)
            _initialized.add(key)

    # ---- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _model_row(conn: sa.Connection, name: str) -> Any:
        row = conn.execute(sa.select(s.registered_models).where(s.registered_models.c.name == name)).first()
        if row is None:
            raise model_not_found(name)
        return row

    @staticmethod
    def _touch_model(conn: sa.Connection, name: str, now: int) -> None:
        """Bump the model's last-updated time: checks that it exists and locks its row."""
        rm = s.registered_models
        if conn.execute(sa.update(rm).where(rm.c.name == name).values(last_updated_time=now)).rowcount == 0:
            raise model_not_found(name)

    @staticmethod
    def _version_row(conn: sa.Connection, name: str, version: int) -> Any:
        mv = s.model_versions
        if not version_exists_possibly(version):
            raise version_not_found(name, version)
        row = conn.execute(
            sa.select(mv).where(mv.c.name == name, mv.c.version == version,
                                mv.c.current_stage != STAGE_DELETED_INTERNAL)
        ).first()
        if row is None:
            raise version_not_found(name, version)
        return row

    def _load_version(self, conn: sa.Connection, name: str, version: int) -> ModelVersion:
        return q.load_versions(conn, [self._version_row(conn, name, version)])[0]

    # ---- registered models -------------------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: Sequence[RegisteredModelTag] | None = None, description: str | None = None
    ) -> RegisteredModel:
        name = check_model_name(name)
        description = check_text(description, "description", MAX_DESCRIPTION_LENGTH)
        tag_rows = {key: value for key, value in (check_tag(t.key, t.value) for t in tags or ())}
        rm = s.registered_models
        now = now_ms()
        try:
            with write_transaction(self.engine) as conn:
                if conn.execute(sa.select(rm.c.name).where(rm.c.name == name)).first() is not None:
                    raise _already_exists(name)
                conn.execute(sa.insert(rm).values(name=name, creation_time=now, last_updated_time=now,
                                                  description=description))
                if tag_rows:
                    conn.execute(sa.insert(s.registered_model_tags),
                                 [{"key": k, "value": val, "name": name} for k, val in tag_rows.items()])
                return q.load_models(conn, [self._model_row(conn, name)])[0]
        except sa.exc.IntegrityError:  # created by another writer since our check
            raise _already_exists(name) from None

    def get_registered_model(self, name: str) -> RegisteredModel:
        name = check_model_name(name)
        with read_connection(self.engine) as conn:
            return q.load_models(conn, [self._model_row(conn, name)])[0]

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        name = check_model_name(name)
        description = check_text(description, "description", MAX_DESCRIPTION_LENGTH)
        rm = s.registered_models
        with write_transaction(self.engine) as conn:
            self._touch_model(conn, name, now_ms())
            conn.execute(sa.update(rm).where(rm.c.name == name).values(description=description))
            return q.load_models(conn, [self._model_row(conn, name)])[0]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        name = check_model_name(name)
        new_name = check_model_name(new_name, "new_name")
        rm, mv = s.registered_models, s.model_versions
        now = now_ms()
        try:
            with write_transaction(self.engine) as conn:
                self._touch_model(conn, name, now)
                if new_name != name:
                    if conn.execute(sa.select(rm.c.name).where(rm.c.name == new_name)).first() is not None:
                        raise _already_exists(new_name)
                    conn.execute(sa.update(rm).where(rm.c.name == name).values(name=new_name))
                    # Where foreign keys cascade (PostgreSQL, MySQL) the children already moved and
                    # these match nothing; on SQLite they do the moving.
                    for table in (s.model_versions, s.model_version_tags, s.registered_model_tags,
                                  s.registered_model_aliases):
                        conn.execute(sa.update(table).where(table.c.name == name).values(name=new_name))
                    conn.execute(sa.update(mv).where(mv.c.name == new_name).values(last_updated_time=now))
                return q.load_models(conn, [self._model_row(conn, new_name)])[0]
        except sa.exc.IntegrityError:
            raise _already_exists(new_name) from None

    def delete_registered_model(self, name: str) -> None:
        name = check_model_name(name)
        with write_transaction(self.engine) as conn:
            self._touch_model(conn, name, now_ms())
            for table in (s.model_version_tags, s.registered_model_aliases, s.registered_model_tags,
                          s.model_versions, s.registered_models):
                conn.execute(sa.delete(table).where(table.c.name == name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        validate_max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        offset = decode_page_token(page_token)
        query = q.registered_models_query(filter_string, order_by, max_results + 1, offset)
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
            found = q.load_models(conn, rows[:max_results])
        return PagedList(found, encode_page_token(offset + max_results) if len(rows) > max_results else None)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        name = check_model_name(name)
        with read_connection(self.engine) as conn:
            self._model_row(conn, name)
            wanted = {canonical_stage(stage) for stage in stages} if stages else set(ALL_STAGES)
            rows = [r for r in q.latest_version_rows(conn, [name]) if (r.current_stage or STAGE_NONE) in wanted]
            return q.load_versions(conn, rows)

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        name = check_model_name(name)
        key, value = check_tag(tag.key, tag.value)
        with write_transaction(self.engine) as conn:
            self._model_row(conn, name)
            upsert(conn, s.registered_model_tags, [{"key": key, "value": value, "name": name}],
                   keys=("key", "name"), update=("value",))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        name = check_model_name(name)
        check_tag(key, "")
        t = s.registered_model_tags
        with write_transaction(self.engine) as conn:
            self._model_row(conn, name)
            conn.execute(sa.delete(t).where(t.c.name == name, t.c.key == key))

    # ---- model versions ------------------------------------------------------------------------------
    def _storage_location(self, source: str) -> str:
        """Where a version's files are: the source itself, or for a ``models:/`` source the location
        of the version it names."""
        if not source.lower().startswith("models:"):
            return source
        base, sub = split_models_uri(source)
        ref = parse_models_uri(base)
        try:
            if ref.version is not None:
                version = ref.version
            elif ref.alias is not None:
                version = self.get_model_version_by_alias(ref.name, ref.alias).version
            else:
                latest = self.get_latest_versions(ref.name, [ref.stage] if ref.stage else None)
                if not latest:
                    raise ResourceDoesNotExist(f"No versions of model with name '{ref.name}' found")
                version = max(m.version for m in latest)
            location = self.get_model_version_download_uri(ref.name, version)
        except MlflowException as exc:
            raise InvalidParameterValue(
                f"Unable to fetch model from model URI source artifact location '{source}'. Error: {exc.message}"
            ) from None
        return location.rstrip("/") + "/" + sub if sub else location

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Sequence[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        storage_location: str | None = None,
    ) -> ModelVersion:
        name = check_model_name(name)
        checked_source = check_text(source, "source", MAX_SOURCE_LENGTH, required=True)
        assert checked_source is not None
        run_id = check_text(run_id, "run_id", MAX_RUN_ID_LENGTH) or None
        run_link = check_text(run_link, "run_link", MAX_RUN_LINK_LENGTH) or None
        description = check_text(description, "description", MAX_DESCRIPTION_LENGTH)
        tag_rows = {k: val for k, val in (check_tag(t.key, t.value, model_version=True) for t in tags or ())}
        storage_location = check_text(storage_location or self._storage_location(checked_source), "storage_location",
                                      MAX_SOURCE_LENGTH)
        mv = s.model_versions
        for attempt in range(CREATE_VERSION_ATTEMPTS):
            try:
                with write_transaction(self.engine) as conn:
                    now = now_ms()
                    self._touch_model(conn, name, now)  # locks the model: writers take turns
                    top = conn.execute(sa.select(sa.func.max(mv.c.version)).where(mv.c.name == name)).scalar()
                    version = int(top or 0) + 1
                    conn.execute(sa.insert(mv).values(
                        name=name, version=version, creation_time=now, last_updated_time=now,
                        description=description, user_id=None, current_stage=STAGE_NONE, source=checked_source,
                        run_id=run_id, status="READY", status_message=None, run_link=run_link,
                        storage_location=storage_location,
                    ))
                    if tag_rows:
                        conn.execute(sa.insert(s.model_version_tags), [
                            {"key": k, "value": val, "name": name, "version": version} for k, val in tag_rows.items()
                        ])
                    return self._load_version(conn, name, version)
            except sa.exc.IntegrityError:
                if attempt == CREATE_VERSION_ATTEMPTS - 1:
                    raise MlflowException(
                        f"Model Version creation error (name={name}). Giving up after "
                        f"{CREATE_VERSION_ATTEMPTS} attempts."
                    ) from None
        raise AssertionError("unreachable")

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        name, number = check_model_name(name), check_version(version)
        with read_connection(self.engine) as conn:
            return self._load_version(conn, name, number)

    def update_model_version(self, name: str, version: int | str, description: str | None) -> ModelVersion:
        name, number = check_model_name(name), check_version(version)
        description = check_text(description, "description", MAX_DESCRIPTION_LENGTH)
        mv = s.model_versions
        with write_transaction(self.engine) as conn:
            self._version_row(conn, name, number)
            conn.execute(sa.update(mv).where(mv.c.name == name, mv.c.version == number)
                         .values(description=description, last_updated_time=now_ms()))
            return self._load_version(conn, name, number)

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        name, number = check_model_name(name), check_version(version)
        target = check_stage(stage)
        if archive_existing_versions and target not in ACTIVE_STAGES:
            raise InvalidParameterValue(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are {ACTIVE_STAGES}"
            )
        mv = s.model_versions
        with write_transaction(self.engine) as conn:
            self._version_row(conn, name, number)
            now = now_ms()
            self._touch_model(conn, name, now)
            if archive_existing_versions:
                conn.execute(
                    sa.update(mv)
                    .where(mv.c.name == name, mv.c.version != number, mv.c.current_stage == target)
                    .values(current_stage=STAGE_ARCHIVED, last_updated_time=now)
                )
            conn.execute(sa.update(mv).where(mv.c.name == name, mv.c.version == number)
                         .values(current_stage=target, last_updated_time=now))
            return self._load_version(conn, name, number)

    def delete_model_version(self, name: str, version: int | str) -> None:
        name, number = check_model_name(name), check_version(version)
        mv, a, t = s.model_versions, s.registered_model_aliases, s.model_version_tags
        with write_transaction(self.engine) as conn:
            self._version_row(conn, name, number)
            now = now_ms()
            self._touch_model(conn, name, now)
            conn.execute(sa.delete(a).where(a.c.name == name, a.c.version == number))
            conn.execute(sa.delete(t).where(t.c.name == name, t.c.version == number))
            conn.execute(
                sa.update(mv).where(mv.c.name == name, mv.c.version == number).values(
                    current_stage=STAGE_DELETED_INTERNAL, last_updated_time=now, description=None, user_id=None,
                    status_message=None, storage_location=REDACTED["source"], **REDACTED,
                )
            )

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        name, number = check_model_name(name), check_version(version)
        with read_connection(self.engine) as conn:
            row = self._version_row(conn, name, number)
            return str(row.storage_location or row.source)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        validate_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        offset = decode_page_token(page_token)
        query = q.model_versions_query(filter_string, order_by, max_results + 1, offset)
        with read_connection(self.engine) as conn:
            rows = conn.execute(query).all()
            found = q.load_versions(conn, rows[:max_results])
        return PagedList(found, encode_page_token(offset + max_results) if len(rows) > max_results else None)

    def set_model_version_tag(self, name: str, version: int | str, tag: ModelVersionTag) -> None:
        name, number = check_model_name(name), check_version(version)
        key, value = check_tag(tag.key, tag.value, model_version=True)
        with write_transaction(self.engine) as conn:
            self._version_row(conn, name, number)
            upsert(conn, s.model_version_tags, [{"key": key, "value": value, "name": name, "version": number}],
                   keys=("key", "name", "version"), update=("value",))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        name, number = check_model_name(name), check_version(version)
        check_tag(key, "")
        t = s.model_version_tags
        with write_transaction(self.engine) as conn:
            self._version_row(conn, name, number)
            conn.execute(sa.delete(t).where(t.c.name == name, t.c.version == number, t.c.key == key))

    # ---- aliases ---------------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        name, alias, number = check_model_name(name), check_alias(alias), check_version(version)
        with write_transaction(self.engine) as conn:
            self._version_row(conn, name, number)
            upsert(conn, s.registered_model_aliases, [{"alias": alias, "version": number, "name": name}],
                   keys=("name", "alias"), update=("version",))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        name, alias = check_model_name(name), check_alias(alias)
        a = s.registered_model_aliases
        with write_transaction(self.engine) as conn:
            self._model_row(conn, name)
            conn.execute(sa.delete(a).where(a.c.name == name, a.c.alias == alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        name, alias = check_model_name(name), check_alias(alias)
        a = s.registered_model_aliases
        with read_connection(self.engine) as conn:
            self._model_row(conn, name)
            version = conn.execute(sa.select(a.c.version).where(a.c.name == name, a.c.alias == alias)).scalar()
            if version is None:
                raise ResourceDoesNotExist(f"Registered model alias {alias} not found.")
            return self._load_version(conn, name, int(version))
