"""What each of the four grammars accepts: entities, keys, comparators and the matching error messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fluvial.search.nodes import (
    ATTRIBUTE,
    DATASET,
    LIST_COMPARATORS,
    METRIC,
    NUMERIC_COMPARATORS,
    PARAM,
    STRING_COMPARATORS,
    TAG,
)

RUN_ENTITY_ALIASES = {
    "metric": METRIC,
    "metrics": METRIC,
    "parameter": PARAM,
    "parameters": PARAM,
    "param": PARAM,
    "params": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}
# The entity names used in MLflow's messages.
ENTITY_WORDS = {METRIC: "metric", PARAM: "parameter", TAG: "tag", ATTRIBUTE: "attribute", DATASET: "dataset"}
REGISTRY_ENTITY_ALIASES = {"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG}

RUN_KEY_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
DATASET_KEYS = frozenset({"name", "digest", "context"})


def set_repr(items: Iterable[str]) -> str:
    """A Python-set-like rendering with a stable order, as MLflow's messages show key sets."""
    return "{" + ", ".join(repr(x) for x in sorted(items)) + "}"


@dataclass(frozen=True)
class KindSpec:
    name: str
    entity_aliases: dict[str, str]
    strip_entity_backticks: bool
    string_attributes: frozenset[str]
    numeric_attributes: frozenset[str]
    key_aliases: dict[str, str]
    list_attributes: frozenset[str]  # attributes that take IN (...)
    list_comparators: frozenset[str]
    entities: frozenset[str]  # entities allowed in filters
    order_attributes: frozenset[str]
    order_entities: frozenset[str]
    invalid_clause_quoted: bool = True
    drop_non_lower_list_values: frozenset[str] = field(default_factory=frozenset)

    @property
    def filter_attributes(self) -> frozenset[str]:
        return self.string_attributes | self.numeric_attributes | frozenset(self.key_aliases)

    def invalid_entity(self, entity: str) -> str:
        if self.name == "runs":
            valid = [ENTITY_WORDS[e] for e in (METRIC, PARAM, TAG, ATTRIBUTE, DATASET)]
            return f"Invalid entity type '{entity}'. Valid values are {valid}"
        return f"Invalid entity type '{entity}'. Valid entity types are ('attribute', 'tag', 'tags')"

    def invalid_comparator(self, entity: str, key: str, comparator: str, allowed: frozenset[str]) -> str:
        if self.name in ("registered_models", "model_versions"):
            if entity == TAG:
                return f"Invalid comparator for tag: {comparator}"
            if key in self.numeric_attributes:
                return f"Invalid comparator for attribute {key}: {comparator}"
            return f"Invalid comparator for attribute: {comparator}"
        if self.name == "experiments" and entity == TAG:
            return f"Invalid comparator for tag: {comparator}"
        return f"Invalid comparator '{comparator}' not one of '{set_repr(allowed)}'"

    def allowed_comparators(self, entity: str, key: str) -> frozenset[str]:
        if entity == METRIC or (entity == ATTRIBUTE and key in self.numeric_attributes):
            return NUMERIC_COMPARATORS
        if entity == DATASET:
            return STRING_COMPARATORS | LIST_COMPARATORS
        if entity == ATTRIBUTE and key in self.list_attributes:
            return STRING_COMPARATORS | self.list_comparators
        return STRING_COMPARATORS


_NO_ALIASES: dict[str, str] = {}

SPECS = {
    "runs": KindSpec(
        name="runs",
        entity_aliases=RUN_ENTITY_ALIASES,
        strip_entity_backticks=True,
        string_attributes=frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"}),
        numeric_attributes=frozenset({"start_time", "end_time"}),
        key_aliases=RUN_KEY_ALIASES,
        list_attributes=frozenset({"run_id"}),
        list_comparators=LIST_COMPARATORS,
        entities=frozenset({METRIC, PARAM, TAG, ATTRIBUTE, DATASET}),
        order_attributes=frozenset(
            {"run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time"}
        ),
        order_entities=frozenset({METRIC, PARAM, TAG, ATTRIBUTE}),
        drop_non_lower_list_values=frozenset({"run_id"}),
    ),
    "experiments": KindSpec(
        name="experiments",
        entity_aliases=REGISTRY_ENTITY_ALIASES,
        strip_entity_backticks=False,
        string_attributes=frozenset({"name"}),
        numeric_attributes=frozenset({"creation_time", "last_update_time"}),
        key_aliases=_NO_ALIASES,
        list_attributes=frozenset(),
        list_comparators=frozenset(),
        entities=frozenset({ATTRIBUTE, TAG}),
        order_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
        order_entities=frozenset({ATTRIBUTE}),
        invalid_clause_quoted=False,
    ),
    "registered_models": KindSpec(
        name="registered_models",
        entity_aliases=REGISTRY_ENTITY_ALIASES,
        strip_entity_backticks=False,
        string_attributes=frozenset({"name"}),
        numeric_attributes=frozenset(),
        key_aliases=_NO_ALIASES,
        list_attributes=frozenset(),
        list_comparators=frozenset(),
        entities=frozenset({ATTRIBUTE, TAG}),
        # SQL store: both timestamp keys sort by the last-updated time; "timestamp" is canonicalized.
        order_attributes=frozenset({"name", "timestamp", "last_updated_timestamp"}),
        order_entities=frozenset({ATTRIBUTE}),
        invalid_clause_quoted=False,
    ),
    "model_versions": KindSpec(
        name="model_versions",
        entity_aliases=REGISTRY_ENTITY_ALIASES,
        strip_entity_backticks=False,
        string_attributes=frozenset({"name", "run_id", "source_path"}),
        numeric_attributes=frozenset({"version_number"}),
        key_aliases=_NO_ALIASES,
        list_attributes=frozenset({"run_id"}),
        list_comparators=frozenset({"IN"}),
        entities=frozenset({ATTRIBUTE, TAG}),
        order_attributes=frozenset(
            {"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
        ),
        order_entities=frozenset({ATTRIBUTE}),
        invalid_clause_quoted=False,
        drop_non_lower_list_values=frozenset({"run_id"}),
    ),
}
