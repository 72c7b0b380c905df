"""Model registry entities: registered models, their versions, tags and aliases; the four stages.

Versions are ``int`` (as MLflow's SQL store returns them; the REST wire carries them as strings and
the codecs convert). Stage names are matched case-insensitively and stored canonically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fluvial.exceptions import InvalidParameterValue

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
# Deleted versions keep their row with this stage so their number is never handed out again.
STAGE_DELETED_INTERNAL = "Deleted_Internal"

ALL_STAGES = [STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED]
ACTIVE_STAGES = [STAGE_STAGING, STAGE_PRODUCTION]  # the stages archive_existing_versions works for
_CANONICAL = {stage.lower(): stage for stage in ALL_STAGES}


def canonical_stage(stage: str) -> str:
    """``'production'`` -> ``'Production'``; anything else but the four stages is refused."""
    key = stage.lower() if isinstance(stage, str) else None
    if key not in _CANONICAL:
        raise InvalidParameterValue(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(ALL_STAGES)}."
        )
    return _CANONICAL[key]


@dataclass(frozen=True)
class RegisteredModelTag:
    key: str
    value: str


@dataclass(frozen=True)
class ModelVersionTag:
    key: str
    value: str


@dataclass(frozen=True)
class RegisteredModelAlias:
    alias: str
    version: int


@dataclass
class ModelVersion:
    """One version of a registered model. ``source`` is where the model's files are (for versions
    registered from ``runs:/`` URIs, the run's resolved artifact URI)."""

    name: str
    version: int
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = STAGE_NONE
    source: str | None = None
    run_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def _tags(self) -> dict[str, str]:  # MLflow exposes both spellings
        return self.tags


@dataclass
class RegisteredModel:
    """A named model. ``latest_versions`` holds the highest version in each stage; ``aliases`` maps
    alias -> version."""

    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)

    @property
    def _tags(self) -> dict[str, str]:
        return self.tags
