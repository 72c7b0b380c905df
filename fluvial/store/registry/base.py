"""The model registry store contract, the registry's input rules, and ``models:/`` URI parsing.

Every backend (SQL, REST) implements :class:`RegistryStore`; the client and the server's handlers
only talk to it. The ``check_*`` helpers hold MLflow 2.22.5's rules and messages so that every backend
refuses the same input the same way (before anything is stored or sent).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fluvial._internal import validation as v
from fluvial.entities import (
    ModelVersion,
    ModelVersionTag,
    PagedList,
    RegisteredModel,
    RegisteredModelTag,
)
from fluvial.entities.registry import ALL_STAGES, canonical_stage
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist

SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000

# Column sizes of MLflow's registry tables (reference §12.2): longer input is refused on every
# backend instead of being truncated by one database and rejected by another.
MAX_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 5000
MAX_SOURCE_LENGTH = 500
MAX_RUN_LINK_LENGTH = 500
MAX_RUN_ID_LENGTH = 32
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
MAX_ALIAS_LENGTH = 255
INT32_MAX = 2**31 - 1

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")


# ---- input rules ----------------------------------------------------------------------------------
def _missing(field: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Missing value for required parameter '{field}'.")


def check_text(value: Any, field: str, limit: int, required: bool = False) -> str | None:
    """An optional (or required) string of at most ``limit`` characters, without NUL."""
    if value is None or (required and value == ""):
        if required:
            raise _missing(field)
        return None
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Parameter '{field}' must be a string, got {type(value).__name__}.")
    if "\x00" in value:
        raise InvalidParameterValue(f"Parameter '{field}' must not contain NUL characters.")
    if len(value) > limit:
        raise InvalidParameterValue(f"'{field}' exceeds the maximum length of {limit} characters")
    return value


def check_model_name(name: Any, field: str = "name") -> str:
    checked = check_text(name, field, MAX_NAME_LENGTH, required=True)
    assert checked is not None
    return checked


def check_version(version: Any) -> int:
    """A version number as ``int``: ints and decimal strings; MLflow's message otherwise."""
    if isinstance(version, bool):
        raise InvalidParameterValue(f"Parameter 'version' must be an integer, got '{version}'.")
    if isinstance(version, int):
        return version
    if isinstance(version, float) and version.is_integer():
        return int(version)
    try:
        return int(version.strip()) if isinstance(version, str) else int(version)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Parameter 'version' must be an integer, got '{version}'.") from None


def version_exists_possibly(version: int) -> bool:
    """Whether a version number fits the column (versions outside it cannot exist)."""
    return 1 <= version <= INT32_MAX


def version_not_found(name: str, version: Any) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


def model_not_found(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def check_tag(key: Any, value: Any, model_version: bool = False) -> tuple[str, str]:
    """A registry tag's key (the run-tag key rules) and value (at most 5000 characters)."""
    v.validate_key(key, "tag")
    if value is None:
        if model_version:
            raise InvalidParameterValue("Tag value cannot be None")
        value = ""
    value = str(value)
    if "\x00" in value:
        raise InvalidParameterValue("Tag values must not contain NUL characters.")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(f"'value' exceeds the maximum length of {MAX_TAG_VALUE_LENGTH} characters")
    return key, value


def check_stage(stage: Any) -> str:
    """A stage name, canonical (``production`` -> ``Production``)."""
    if not isinstance(stage, str) or not stage.strip():
        raise InvalidParameterValue("The stage must not be an empty string.")
    return canonical_stage(stage)


def check_alias(alias: Any) -> str:
    """Alias names: letters, digits, ``_`` and ``-``; not ``latest`` (any case) nor ``v<digits>``."""
    if alias is None or alias == "":
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterValue(
            f"'Registered model alias name' exceeds the maximum length of {MAX_ALIAS_LENGTH} characters"
        )
    if alias.lower() == "latest":
        raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


# ---- models:/ URIs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelsUri:
    """What a ``models:/`` URI names: a version, the latest version of a stage, an alias, or (all
    three None) the latest version overall."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None


LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def logged_model_id(uri: str) -> str | None:
    """The model id of an MLflow 3 logged-model URI (``models:/m-<32 hex>``), else None."""
    if not isinstance(uri, str) or uri[:8].lower() != "models:/":
        return None
    rest = uri[8:].strip("/")
    return rest if LOGGED_MODEL_ID.match(rest) else None


def improper_models_uri(uri: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/model_name/suffix' "
        "or 'models:/model_name@alias' where suffix is a model version, stage, or the string 'latest' and "
        "where alias is a registered model alias. Only one of suffix or alias can be defined at a time."
    )


def _models_path(uri: str) -> str:
    if not isinstance(uri, str) or not uri[:7].lower() == "models:":
        raise improper_models_uri(str(uri))
    parts = urlsplit(uri, allow_fragments=False)
    if parts.netloc or parts.query:
        raise improper_models_uri(uri)
    return parts.path


def split_models_uri(uri: str) -> tuple[str, str]:
    """``models:/n/3/sub/path`` -> (``models:/n/3``, ``sub/path``); ``models:/n@a/x`` -> (``models:/n@a``, ``x``)."""
    _models_path(uri)
    uri = uri.rstrip("/")
    path = _models_path(uri)
    if path.count("/") >= 2:
        pieces = path.split("/", 3)
        cut = 2 if "@" in pieces[1] else 3
        return "models:" + "/".join(pieces[:cut]), "/".join(pieces[cut:])
    return uri, ""


def parse_models_uri(uri: str) -> ModelsUri:
    """Parse a ``models:/`` URI without a sub-path (stage names are checked when resolved)."""
    path = _models_path(uri)
    if not path.startswith("/") or len(path) <= 1:
        raise improper_models_uri(uri)
    parts = path[1:].split("/")
    if len(parts) > 2 or parts[0].strip() == "":
        raise improper_models_uri(uri)
    if len(parts) == 2:
        name, suffix = parts
        if suffix.strip() == "":
            raise improper_models_uri(uri)
        if suffix.isascii() and suffix.isdigit():
            return ModelsUri(name, version=int(suffix))
        if suffix.lower() == "latest":
            return ModelsUri(name)
        return ModelsUri(name, stage=suffix)
    name, at, alias = parts[0].rpartition("@")
    if not at or not name or alias.strip() == "":
        raise improper_models_uri(uri)
    return ModelsUri(name, alias=alias)


# ---- the contract ----------------------------------------------------------------------------------
class RegistryStore(abc.ABC):
    """Registered models, their versions, stages, tags and aliases."""

    # ---- registered models -------------------------------------------------------------------
    @abc.abstractmethod
    def create_registered_model(
        self, name: str, tags: Sequence[RegisteredModelTag] | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Create a model; the name must be new (``ResourceAlreadyExists`` otherwise)."""

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel: ...

    @abc.abstractmethod
    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename; versions, tags and aliases follow the model."""

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Delete the model with its versions, tags and aliases (never any artifact)."""

    @abc.abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]: ...

    @abc.abstractmethod
    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The highest version in each of ``stages`` (all four when empty) that has one."""

    @abc.abstractmethod
    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None: ...

    @abc.abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag; removing a tag that is not set is not an error (as in MLflow)."""

    # ---- model versions ----------------------------------------------------------------------
    @abc.abstractmethod
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
        """A new version numbered one above the highest ever created for the model (deleted
        versions included), also when several processes create versions at once.

        ``storage_location`` is where the files are when the caller resolved a source the store
        cannot (an MLflow 3 ``models:/<model_id>`` logged model); by default it is the source, or
        for ``models:/<name>/...`` sources the location of that version. REST stores ignore it: the
        server resolves."""

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int | str) -> ModelVersion: ...

    @abc.abstractmethod
    def update_model_version(self, name: str, version: int | str, description: str | None) -> ModelVersion: ...

    @abc.abstractmethod
    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to a stage; with ``archive_existing_versions`` (Staging/Production only)
        the other versions in that stage move to Archived."""

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: int | str) -> None: ...

    @abc.abstractmethod
    def get_model_version_download_uri(self, name: str, version: int | str) -> str: ...

    @abc.abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]: ...

    @abc.abstractmethod
    def set_model_version_tag(self, name: str, version: int | str, tag: ModelVersionTag) -> None: ...

    @abc.abstractmethod
    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None: ...

    # ---- aliases -------------------------------------------------------------------------------
    @abc.abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at a version (moving it if it pointed elsewhere)."""

    @abc.abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    # ---- shared --------------------------------------------------------------------------------
    def get_model_version_stages(self, name: str, version: int | str) -> list[str]:
        return list(ALL_STAGES)
