"""Registry entities to and from their JSON shapes (reference §14). Versions travel as strings,
statuses by enum name; unset fields are omitted on the way out and read as None on the way in."""

from __future__ import annotations

from typing import Any

from fluvial.entities import ModelVersion, ModelVersionStatus, RegisteredModel
from fluvial.entities.registry import STAGE_NONE


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _tags_out(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _tags_in(items: Any) -> dict[str, str]:
    return {t.get("key", ""): t.get("value", "") for t in items or []}


def _model_id(source: str | None) -> str | None:
    """MLflow 3's ``model_id`` of a version registered from a logged model (``models:/m-<hex>``)."""
    if source and source.startswith("models:/m-"):
        rest = source[len("models:/"):].strip("/")
        return rest if "/" not in rest and "@" not in rest else None
    return None


def model_version_to_json(mv: ModelVersion) -> dict[str, Any]:
    return _drop_none(
        {
            "name": mv.name,
            "version": str(mv.version),
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "user_id": mv.user_id,
            "current_stage": mv.current_stage,
            "description": mv.description,
            "source": mv.source,
            "run_id": mv.run_id,
            "status": mv.status,
            "status_message": mv.status_message,
            "tags": _tags_out(mv.tags),
            "run_link": mv.run_link,
            "aliases": list(mv.aliases),
            "model_id": _model_id(mv.source),
        }
    )


def _status_in(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return ModelVersionStatus(value).name
    return str(value) if value else ModelVersionStatus.PENDING_REGISTRATION.name  # proto default


def model_version_from_json(d: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=d.get("name", ""),
        version=int(d.get("version", 0)),
        creation_timestamp=_int_or_none(d.get("creation_timestamp")),
        last_updated_timestamp=_int_or_none(d.get("last_updated_timestamp")),
        description=d.get("description"),
        user_id=_str_or_none(d.get("user_id")),
        current_stage=d.get("current_stage") or STAGE_NONE,
        source=d.get("source"),
        run_id=_str_or_none(d.get("run_id")),
        status=_status_in(d.get("status")),
        status_message=_str_or_none(d.get("status_message")),
        tags=_tags_in(d.get("tags")),
        run_link=_str_or_none(d.get("run_link")),
        aliases=[str(a) for a in d.get("aliases", [])],
    )


def registered_model_to_json(rm: RegisteredModel) -> dict[str, Any]:
    return _drop_none(
        {
            "name": rm.name,
            "creation_timestamp": rm.creation_timestamp,
            "last_updated_timestamp": rm.last_updated_timestamp,
            "description": rm.description,
            "latest_versions": [model_version_to_json(mv) for mv in rm.latest_versions],
            "tags": _tags_out(rm.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in rm.aliases.items()],
        }
    )


def registered_model_from_json(d: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=d.get("name", ""),
        creation_timestamp=_int_or_none(d.get("creation_timestamp")),
        last_updated_timestamp=_int_or_none(d.get("last_updated_timestamp")),
        description=d.get("description"),
        latest_versions=[model_version_from_json(mv) for mv in d.get("latest_versions", [])],
        tags=_tags_in(d.get("tags")),
        aliases={a.get("alias", ""): int(a.get("version", 0)) for a in d.get("aliases", [])},
    )
