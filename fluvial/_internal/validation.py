"""Validation of names, values and limits, with MLflow 2.22.5's rules and messages (reference §7)."""

from __future__ import annotations

import logging
import math
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fluvial.exceptions import InvalidParameterValue

_logger = logging.getLogger(__name__)

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_TAG_VAL_LENGTH = 5000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ARTIFACT_LOCATION_LENGTH = 2048
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_RESULTS_SEARCH_RUNS = 50000
MAX_RESULTS_SEARCH_EXPERIMENTS = 50000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")

_BAD_CHARS_MSG = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/)."
)


def truncate_long_values() -> bool:
    return os.environ.get("MLFLOW_TRUNCATE_LONG_VALUES", "true").strip().lower() in ("true", "1", "yes")


def bad_path_message(name: str) -> str:
    return (
        "Names may be treated as files in certain cases, and must not resolve to other names when treated "
        f"as such. This name would resolve to {posixpath.normpath(name)!r}"
    )


_VALID_KEYS: set[str] = set()  # keys that passed (the checks do not depend on the kind): a training
_VALID_KEYS_MAX = 10_000  # loop logs the same few keys again and again


def validate_key(key: Any, kind: str) -> None:
    """Check a metric/param/tag key: required, allowed characters, path-safe, at most 250 chars."""
    if key.__class__ is str and key in _VALID_KEYS:
        return
    _check_key(key, kind)
    if len(_VALID_KEYS) >= _VALID_KEYS_MAX:
        _VALID_KEYS.clear()
    _VALID_KEYS.add(key)


def _check_key(key: Any, kind: str) -> None:
    if key is None or key == "":
        raise InvalidParameterValue(
            f"Missing value for required parameter 'key'. See the API docs for more information about "
            f"request parameters. ({kind} key)"
        )
    if not isinstance(key, str):
        raise InvalidParameterValue(f"Invalid {kind} name: {key!r}. {kind.capitalize()} names must be strings.")
    if not _KEY_RE.match(key):
        raise InvalidParameterValue(f"Invalid {kind} name: '{key}'. {_BAD_CHARS_MSG}")
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise InvalidParameterValue(f"Invalid {kind} name: '{key}'. {bad_path_message(key)}")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidParameterValue(
            f"'key' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters ({kind} key {key[:40]!r}...)"
        )


def _limit_value(value: str, limit: int, what: str, key: str) -> str:
    if len(value) <= limit:
        return value
    if truncate_long_values():
        _logger.warning("Truncated the value of %s '%s' to %d characters.", what, key, limit)
        return value[:limit]
    raise InvalidParameterValue(
        f"{what.capitalize()} '{key}' had length {len(value)}, which exceeded length limit of {limit}"
    )


def param_value(key: str, value: Any) -> str:
    """The stored string of a param value: ``str(value)``, truncated to 6000 chars (or an error)."""
    return _limit_value("" if value is None else str(value), MAX_PARAM_VAL_LENGTH, "param", key)


def tag_value(key: str, value: Any) -> str:
    return _limit_value("" if value is None else str(value), MAX_TAG_VAL_LENGTH, "tag", key)


def experiment_tag_value(key: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_EXPERIMENT_TAG_VAL_LENGTH:
        raise InvalidParameterValue(
            f"'value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VAL_LENGTH} characters"
        )
    return text


def metric_value(key: str, value: Any) -> float:
    """Metric values are numbers (NaN and +-inf allowed); booleans and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            import numbers

            if isinstance(value, numbers.Number) and not isinstance(value, bool):
                return float(value)  # type: ignore[arg-type]  # numpy scalars
        except Exception:  # pragma: no cover - defensive
            pass
        raise InvalidParameterValue(
            f"Got invalid value {value!r} for metric '{key}' (timestamp=...). Please specify value as a valid "
            "double (64-bit floating point)"
        )
    return float(value)


def metric_timestamp(key: str, timestamp: Any) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        try:
            if not isinstance(timestamp, bool) and float(timestamp).is_integer() and float(timestamp) >= 0:
                return int(timestamp)
        except (TypeError, ValueError):
            pass
        raise InvalidParameterValue(
            f"Got invalid timestamp {timestamp!r} for metric '{key}'. Timestamp must be a nonnegative long "
            "(64-bit integer) "
        )
    return timestamp


def metric_step(key: str, step: Any) -> int:
    if step is None:
        return 0
    if isinstance(step, bool):
        raise InvalidParameterValue(f"Got invalid step {step!r} for metric '{key}'. Step must be an integer.")
    if isinstance(step, int):
        return step
    try:
        if float(step).is_integer():
            return int(step)
    except (TypeError, ValueError):
        pass
    raise InvalidParameterValue(
        f"Got invalid step {step!r} for metric '{key}'. Step must be a valid long (64-bit integer)."
    )


def is_finite_or_nan(value: float) -> bool:
    return math.isfinite(value) or math.isnan(value)


def experiment_name(name: Any) -> str:
    if name is None or name == "":
        raise InvalidParameterValue("Invalid experiment name: ''. Experiment name must be a non-empty string.")
    if not isinstance(name, str):
        raise InvalidParameterValue(
            f"Invalid experiment name: {name!r}. Expects a string."
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )
    return name


def artifact_location(location: str | None) -> None:
    if location is None:
        return
    if len(location) > MAX_ARTIFACT_LOCATION_LENGTH:
        raise InvalidParameterValue(
            f"Invalid artifact path length. The length of the artifact path cannot be greater than "
            f"{MAX_ARTIFACT_LOCATION_LENGTH} characters. To configure this limit, please set the "
            "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable."
        )
    if location.startswith("runs:"):
        raise InvalidParameterValue(
            f"Got an invalid artifact location '{location}'. 'runs:/' URIs cannot be used as artifact locations."
        )
    from urllib.parse import urlparse

    parsed = urlparse(location)
    if parsed.fragment or parsed.params:
        raise InvalidParameterValue(
            f"'artifact_location' URL can't include fragments or params: '{location}'"
        )


def run_id(value: Any) -> str:
    if not isinstance(value, str) or not _RUN_ID_RE.match(value):
        raise InvalidParameterValue(f"Invalid run ID: '{value}'")
    return value


def experiment_id(value: Any) -> str:
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str) or not _EXPERIMENT_ID_RE.match(value):
        raise InvalidParameterValue(f"Invalid experiment ID: '{value}'")
    return value


def batch_limits(metrics: Sequence[Any], params: Sequence[Any], tags: Sequence[Any]) -> None:
    """LogBatch limits: <=1000 metrics, <=100 params, <=100 tags, <=1000 in all, unique param keys."""
    total = len(metrics) + len(params) + len(tags)
    problems = []
    if len(metrics) > MAX_METRICS_PER_BATCH:
        problems.append(f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. "
                        f"Got {len(metrics)} metrics.")
    if len(params) > MAX_PARAMS_TAGS_PER_BATCH:
        problems.append(f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params. "
                        f"Got {len(params)} params.")
    if len(tags) > MAX_PARAMS_TAGS_PER_BATCH:
        problems.append(f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} tags. "
                        f"Got {len(tags)} tags.")
    if total > MAX_ENTITIES_PER_BATCH:
        problems.append(f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params "
                        f"and tags in total. Got {total} in total.")
    if problems:
        raise InvalidParameterValue(" ".join(problems) + " Please split up the batch into smaller requests.")


def unique_param_keys(keys: Iterable[str]) -> None:
    seen: set[str] = set()
    dupes: list[str] = []
    for key in keys:
        if key in seen and key not in dupes:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise InvalidParameterValue(f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
                                    "the request contains only one param value per param key.")
